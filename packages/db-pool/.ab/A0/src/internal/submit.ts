import pg from 'pg';

/**
 * Sends one statement on a client, lean: builds the `pg.Query` from the text (pg clones a
 * config object with `Object.defineProperties` on every call, and wraps its promise in an
 * extra `.catch`), sets the prepared-statement name afterwards, and settles one promise from
 * pg's callback.
 */
export function submit(
  client: pg.Client,
  text: string,
  values: unknown[] | undefined,
  name: string | undefined,
): Promise<pg.QueryResult> {
  return new Promise<pg.QueryResult>((resolve, reject) => {
    const query = new pg.Query(text, values, (error: Error | undefined, result: unknown) => {
      if (error) reject(error);
      else resolve(result as pg.QueryResult);
    });
    // pg reads `name` when it submits, not in the constructor.
    if (name !== undefined) (query as unknown as { name: string }).name = name;
    client.query(query);
  });
}
