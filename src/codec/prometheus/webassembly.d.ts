// The WebAssembly API of Node's V8, as far as sluice uses it: TypeScript declares it only in
// its DOM and worker libraries, and @types/node 20 not at all.
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module, imports?: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
  class Memory {
    constructor(descriptor: { initial: number; maximum?: number });
    readonly buffer: ArrayBuffer;
    grow(pages: number): number;
  }
  class Global {
    value: number;
  }
  /** The error of a trap: `unreachable`, an access out of bounds. */
  const RuntimeError: { new (message?: string): Error; prototype: Error };
}
