import { MonitoringError, MonitoringErrorCode } from '../errors.js';

/**
 * Loads an optional peer dependency when the feature that needs it is first used, so a
 * metrics-only install does not carry it. A missing package becomes `E_MONITORING_MISSING_PEER`
 * naming the package to install; any other load failure is rethrown as is.
 *
 * @param name - The package, as the user would `npm install` it.
 * @param feature - What needs it, for the message (e.g. `EmailNotifier`).
 * @param load - `() => import('<name>')`, written literally so bundlers see the specifier.
 */
export async function importOptionalPeer<T>(name: string, feature: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (cause) {
    const code = (cause as { code?: unknown })?.code;
    const missing =
      (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
      String((cause as Error).message).includes(`'${name}'`);
    if (!missing) throw cause;
    const error = new MonitoringError(
      MonitoringErrorCode.MISSING_PEER,
      `${feature} needs the optional peer dependency ${name}; install it with: npm install ${name}`,
      { cause },
    );
    // The queue must not retry: the package will not appear between attempts.
    throw Object.assign(error, { retryable: false });
  }
}
