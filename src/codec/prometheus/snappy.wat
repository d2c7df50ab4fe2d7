;; The snappy block decoder of the remote-write receiver, in WebAssembly text. Compiled by
;; `npm run build:wasm` (scripts/build-wasm.js) into snappy-module.ts, which embeds the
;; binary; test/codec/wasm-modules.test.ts checks that the embedded binary is this file.
;;
;; A block is elements after its declared length: literals (bytes as they are) and copies of
;; bytes already written (a length and how far back). WebAssembly loads and stores eight
;; unaligned bytes at once, which JavaScript cannot: a copy of 4-64 bytes, most of a
;; remote-write body, is one to eight such moves instead of a loop of bytes or a call.
(module
  (memory (export "memory") 1)

  ;; Uncompresses the elements in memory[pos, end) into memory[dst, dst + len), where len is
  ;; the block's declared length. Returns len, or -1 when the elements are not a valid block
  ;; of that length: a length or offset cut off by the end, a copy from before the start or
  ;; from nothing, more bytes than declared, or fewer. Both ranges must be followed by 16
  ;; bytes the caller does not need (short literals move 16 bytes, copies 8 at a time, and the
  ;; last move may write past the element's end: later elements overwrite those bytes).
  (func (export "uncompress")
    (param $pos i32) (param $end i32) (param $dst i32) (param $len i32) (result i32)
    (local $written i32) (local $tag i32) (local $n i32) (local $offset i32)
    (local $from i32) (local $to i32) (local $stop i32) (local $bytes i32)
    (block $fail
      (block $done
        (loop $element
          (br_if $done (i32.ge_u (local.get $pos) (local.get $end)))
          (local.set $tag (i32.load8_u (local.get $pos)))
          (local.set $pos (i32.add (local.get $pos) (i32.const 1)))
          (if (i32.eqz (i32.and (local.get $tag) (i32.const 3)))
            (then
              ;; A literal: its length - 1 in the tag's upper six bits, or, for 60-63, in the
              ;; 1-4 little-endian bytes that follow.
              (local.set $n (i32.shr_u (local.get $tag) (i32.const 2)))
              (if (i32.ge_u (local.get $n) (i32.const 60))
                (then
                  (local.set $bytes (i32.sub (local.get $n) (i32.const 59)))
                  (br_if $fail (i32.gt_u (local.get $bytes) (i32.sub (local.get $end) (local.get $pos))))
                  ;; Four bytes read, those past the length masked off (the slack is there).
                  (local.set $n (i32.load (local.get $pos)))
                  (if (i32.lt_u (local.get $bytes) (i32.const 4))
                    (then
                      (local.set $n
                        (i32.and (local.get $n)
                          (i32.sub
                            (i32.shl (i32.const 1) (i32.shl (local.get $bytes) (i32.const 3)))
                            (i32.const 1))))))
                  (local.set $pos (i32.add (local.get $pos) (local.get $bytes)))
                  (br_if $fail (i32.ge_u (local.get $n) (i32.const 0x7fffffff)))))
              (local.set $n (i32.add (local.get $n) (i32.const 1)))
              (br_if $fail (i32.gt_u (local.get $n) (i32.sub (local.get $end) (local.get $pos))))
              (br_if $fail (i32.gt_u (local.get $n) (i32.sub (local.get $len) (local.get $written))))
              (local.set $to (i32.add (local.get $dst) (local.get $written)))
              (if (i32.le_u (local.get $n) (i32.const 16))
                (then
                  (i64.store (local.get $to) (i64.load (local.get $pos)))
                  (i64.store offset=8 (local.get $to) (i64.load offset=8 (local.get $pos))))
                (else
                  (memory.copy (local.get $to) (local.get $pos) (local.get $n))))
              (local.set $pos (i32.add (local.get $pos) (local.get $n)))
              (local.set $written (i32.add (local.get $written) (local.get $n)))
              (br $element)))
          ;; A copy. Tag 1: length 4-11 and an 11-bit offset; 2: length 1-64 and a 16-bit
          ;; offset; 3: length 1-64 and a 32-bit offset.
          (if (i32.eq (i32.and (local.get $tag) (i32.const 3)) (i32.const 1))
            (then
              (br_if $fail (i32.ge_u (local.get $pos) (local.get $end)))
              (local.set $n
                (i32.add (i32.and (i32.shr_u (local.get $tag) (i32.const 2)) (i32.const 7))
                  (i32.const 4)))
              (local.set $offset
                (i32.or (i32.shl (i32.shr_u (local.get $tag) (i32.const 5)) (i32.const 8))
                  (i32.load8_u (local.get $pos))))
              (local.set $pos (i32.add (local.get $pos) (i32.const 1))))
            (else
              (local.set $n (i32.add (i32.shr_u (local.get $tag) (i32.const 2)) (i32.const 1)))
              (if (i32.eq (i32.and (local.get $tag) (i32.const 3)) (i32.const 2))
                (then
                  (br_if $fail (i32.gt_u (i32.const 2) (i32.sub (local.get $end) (local.get $pos))))
                  (local.set $offset (i32.load16_u (local.get $pos)))
                  (local.set $pos (i32.add (local.get $pos) (i32.const 2))))
                (else
                  (br_if $fail (i32.gt_u (i32.const 4) (i32.sub (local.get $end) (local.get $pos))))
                  (local.set $offset (i32.load (local.get $pos)))
                  (local.set $pos (i32.add (local.get $pos) (i32.const 4)))))))
          (br_if $fail (i32.eqz (local.get $offset)))
          (br_if $fail (i32.gt_u (local.get $offset) (local.get $written)))
          (br_if $fail (i32.gt_u (local.get $n) (i32.sub (local.get $len) (local.get $written))))
          (local.set $to (i32.add (local.get $dst) (local.get $written)))
          (local.set $from (i32.sub (local.get $to) (local.get $offset)))
          (local.set $written (i32.add (local.get $written) (local.get $n)))
          (local.set $stop (i32.add (local.get $dst) (local.get $written)))
          (if (i32.ge_u (local.get $offset) (i32.const 8))
            (then
              ;; Eight bytes at a time: an offset of 8 or more means every byte read was
              ;; written before this move.
              (loop $wide
                (i64.store (local.get $to) (i64.load (local.get $from)))
                (local.set $to (i32.add (local.get $to) (i32.const 8)))
                (local.set $from (i32.add (local.get $from) (i32.const 8)))
                (br_if $wide (i32.lt_u (local.get $to) (local.get $stop)))))
            (else
              ;; A run (offset 1-7): byte by byte, as a byte written may be read again.
              (loop $narrow
                (i32.store8 (local.get $to) (i32.load8_u (local.get $from)))
                (local.set $to (i32.add (local.get $to) (i32.const 1)))
                (local.set $from (i32.add (local.get $from) (i32.const 1)))
                (br_if $narrow (i32.lt_u (local.get $to) (local.get $stop))))))
          (br $element)))
      (br_if $fail (i32.ne (local.get $written) (local.get $len)))
      (return (local.get $len)))
    (i32.const -1)))
