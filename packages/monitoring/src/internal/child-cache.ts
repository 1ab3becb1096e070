/**
 * Nested maps from label values to a cached metric child, so the hot path finds its child with a
 * few `Map.get` calls and no string concatenation or allocation.
 */
export class ChildCache<C> {
  // biome-ignore lint/suspicious/noExplicitAny: nested maps of varying depth.
  private readonly root = new Map<string, any>();
  constructor(private readonly create: (values: string[]) => C) {}

  get2(a: string, b: string): C {
    let m = this.root.get(a) as Map<string, C> | undefined;
    if (m === undefined) {
      m = new Map();
      this.root.set(a, m);
    }
    let c = m.get(b);
    if (c === undefined) {
      c = this.create([a, b]);
      m.set(b, c);
    }
    return c;
  }

  get3(a: string, b: string, c3: string): C {
    let m1 = this.root.get(a) as Map<string, Map<string, C>> | undefined;
    if (m1 === undefined) {
      m1 = new Map();
      this.root.set(a, m1);
    }
    let m2 = m1.get(b);
    if (m2 === undefined) {
      m2 = new Map();
      m1.set(b, m2);
    }
    let c = m2.get(c3);
    if (c === undefined) {
      c = this.create([a, b, c3]);
      m2.set(c3, c);
    }
    return c;
  }

  get4(a: string, b: string, c3: string, d: string): C {
    let m1 = this.root.get(a) as Map<string, Map<string, Map<string, C>>> | undefined;
    if (m1 === undefined) {
      m1 = new Map();
      this.root.set(a, m1);
    }
    let m2 = m1.get(b);
    if (m2 === undefined) {
      m2 = new Map();
      m1.set(b, m2);
    }
    let m3 = m2.get(c3);
    if (m3 === undefined) {
      m3 = new Map();
      m2.set(c3, m3);
    }
    let c = m3.get(d);
    if (c === undefined) {
      c = this.create([a, b, c3, d]);
      m3.set(d, c);
    }
    return c;
  }

  get5(a: string, b: string, c3: string, d: string, e: string): C {
    let m1 = this.root.get(a) as Map<string, Map<string, Map<string, Map<string, C>>>> | undefined;
    if (m1 === undefined) {
      m1 = new Map();
      this.root.set(a, m1);
    }
    let m2 = m1.get(b);
    if (m2 === undefined) {
      m2 = new Map();
      m1.set(b, m2);
    }
    let m3 = m2.get(c3);
    if (m3 === undefined) {
      m3 = new Map();
      m2.set(c3, m3);
    }
    let m4 = m3.get(d);
    if (m4 === undefined) {
      m4 = new Map();
      m3.set(d, m4);
    }
    let c = m4.get(e);
    if (c === undefined) {
      c = this.create([a, b, c3, d, e]);
      m4.set(e, c);
    }
    return c;
  }

  /** Forgets every cached child whose first label value is `a` (e.g. an unwatched component). */
  deleteFirst(a: string): void {
    this.root.delete(a);
  }

  clear(): void {
    this.root.clear();
  }
}
