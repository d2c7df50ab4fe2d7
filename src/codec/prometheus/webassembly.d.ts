// The WebAssembly API of Node's V8, as far as sluice uses it: TypeScript declares it only in
// its DOM and worker libraries, and @types/node 20 not at all.
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module, imports?: object);
    readonly exports: Record<string, unknown>;
  }
  class Memory {
    readonly buffer: ArrayBuffer;
    grow(pages: number): number;
  }
}
