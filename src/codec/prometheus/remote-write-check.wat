;; The remote-write relay's check of a `WriteRequest` (uncompressed), in WebAssembly text:
;; what `RemoteWriteValidator` (validate-write-request.ts) checks, on the bytes the snappy
;; decoder (snappy.wat) just wrote into the same memory, so nothing is copied. Compiled by
;; `npm run build:wasm` into remote-write-check-module.ts (test/codec/wasm-modules.test.ts
;; checks the embedded binary is this file); test/fuzz/relay-validator.test.ts
;; holds it to the JavaScript validator's answers.
;;
;; A body the check does not take (malformed, an unknown field, over a limit) traps
;; (`unreachable`): the caller reads a trap as "decode it instead", as it reads the JavaScript
;; validator's NOT_TAKEN. Text that is not all ASCII is left to the JavaScript validator,
;; which checks it as UTF-8: `check` returns -2.
(module
  (import "env" "memory" (memory 1))
  ;; Where the walk is.
  (global $pos (mut i32) (i32.const 0))
  ;; Samples of the request checked last.
  (global $samples (export "samples") (mut i32) (i32.const 0))
  ;; Whether every label and metadata text so far was ASCII.
  (global $ascii (mut i32) (i32.const 1))
  ;; Whether the series read last had labels (and so a key).
  (global $labeled (mut i32) (i32.const 0))

  ;; A varint of at most 10 bytes that ends before $end: its low 32 bits.
  (func $varint (param $end i32) (result i32)
    (local $p i32) (local $b i32) (local $value i32) (local $shift i32)
    (local.set $p (global.get $pos))
    (loop $byte
      (if (i32.ge_u (local.get $p) (local.get $end)) (then unreachable))
      (local.set $b (i32.load8_u (local.get $p)))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (if (i32.lt_u (local.get $shift) (i32.const 32))
        (then
          (local.set $value
            (i32.or (local.get $value)
              (i32.shl (i32.and (local.get $b) (i32.const 0x7f)) (local.get $shift))))))
      (local.set $shift (i32.add (local.get $shift) (i32.const 7)))
      (if (i32.ge_u (local.get $b) (i32.const 0x80))
        (then
          (br_if $byte (i32.lt_u (local.get $shift) (i32.const 70)))
          unreachable)))
    (global.set $pos (local.get $p))
    (local.get $value))

  ;; A length prefix: where the bytes it delimits end (within $end).
  (func $delimited (param $end i32) (result i32)
    (local $length i32)
    (local.set $length (call $varint (local.get $end)))
    (if (i32.gt_u (local.get $length) (i32.sub (local.get $end) (global.get $pos)))
      (then unreachable))
    (i32.add (global.get $pos) (local.get $length)))

  ;; `Label { 1: name, 2: value }`: each field a one-byte tag and a one-byte length, the value
  ;; within $maxValue as an attribute (tag, length, text).
  (func $label (param $end i32) (param $maxValue i32)
    (local $p i32) (local $tag i32) (local $length i32)
    (local.set $p (global.get $pos))
    (block $done
      (loop $field
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (if (i32.gt_u (i32.const 2) (i32.sub (local.get $end) (local.get $p))) (then unreachable))
        (local.set $tag (i32.load8_u (local.get $p)))
        (local.set $length (i32.load8_u offset=1 (local.get $p)))
        (if (i32.and (i32.ne (local.get $tag) (i32.const 0x0a)) (i32.ne (local.get $tag) (i32.const 0x12)))
          (then unreachable))
        (if (i32.ge_u (local.get $length) (i32.const 0x80)) (then unreachable))
        (local.set $p (i32.add (local.get $p) (i32.add (local.get $length) (i32.const 2))))
        (if (i32.gt_u (local.get $p) (local.get $end)) (then unreachable))
        (if (i32.and (i32.eq (local.get $tag) (i32.const 0x12))
              (i32.gt_u (i32.add (local.get $length) (i32.const 2)) (local.get $maxValue)))
          (then unreachable))
        (br $field)))
    (global.set $pos (local.get $p)))

  ;; `Sample { 1: value (double), 2: timestamp (varint) }`, any number of each.
  (func $sample (param $end i32)
    (local $tag i32)
    (block $done
      (loop $field
        (br_if $done (i32.ge_u (global.get $pos) (local.get $end)))
        (local.set $tag (call $varint (local.get $end)))
        (if (i32.eq (local.get $tag) (i32.const 0x09))
          (then
            (if (i32.gt_u (i32.const 8) (i32.sub (local.get $end) (global.get $pos)))
              (then unreachable))
            (global.set $pos (i32.add (global.get $pos) (i32.const 8)))
            (br $field)))
        (if (i32.ne (local.get $tag) (i32.const 0x10)) (then unreachable))
        (drop (call $varint (local.get $end)))
        (br $field))))

  ;; The series key of the labels' bytes [$start, $end): the JavaScript validator's
  ;; `#labelsKey`, word for word; notes in $ascii whether they are all ASCII.
  (func $key (param $start i32) (param $end i32) (result i32)
    (local $hash i32) (local $bits i32) (local $word i32) (local $tail i32) (local $shift i32)
    (local $i i32)
    (local.set $hash (i32.xor (i32.const 0x3c6ef372) (i32.sub (local.get $end) (local.get $start))))
    (local.set $i (local.get $start))
    (block $words
      (loop $word
        (br_if $words (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $end)))
        (local.set $word (i32.load (local.get $i)))
        (local.set $bits (i32.or (local.get $bits) (local.get $word)))
        (local.set $hash (i32.mul (i32.xor (local.get $hash) (local.get $word)) (i32.const 0x9e3779b1)))
        (local.set $hash (i32.xor (local.get $hash) (i32.shr_u (local.get $hash) (i32.const 15))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $word)))
    (block $bytes
      (loop $byte
        (br_if $bytes (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $word (i32.load8_u (local.get $i)))
        (local.set $bits (i32.or (local.get $bits) (local.get $word)))
        (local.set $tail (i32.or (local.get $tail) (i32.shl (local.get $word) (local.get $shift))))
        (local.set $shift (i32.add (local.get $shift) (i32.const 8)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $byte)))
    (if (i32.and (local.get $bits) (i32.const 0x80808080)) (then (global.set $ascii (i32.const 0))))
    (local.set $hash (i32.mul (i32.xor (local.get $hash) (local.get $tail)) (i32.const 0x85ebca6b)))
    (local.set $hash (i32.xor (local.get $hash) (i32.shr_u (local.get $hash) (i32.const 13))))
    (local.set $hash (i32.mul (local.get $hash) (i32.const 0xc2b2ae35)))
    (i32.xor (local.get $hash) (i32.shr_u (local.get $hash) (i32.const 16))))

  ;; `TimeSeries { 1: labels, 2: samples }`: its key when it has labels ($labeled).
  (func $series (param $end i32) (param $maxLabels i32) (param $maxValue i32) (result i32)
    (local $tag i32) (local $stop i32) (local $labels i32) (local $first i32) (local $last i32)
    (local $p i32) (local $length i32) (local $at i32)
    (local.set $first (i32.const -1))
    (block $done
      (loop $field
        (local.set $p (global.get $pos))
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        ;; The usual field: a label or a sample of under 128 bytes, its tag and length a byte
        ;; each (what the general path below reads too, in fewer steps).
        (local.set $tag (i32.load8_u (local.get $p)))
        (local.set $length (i32.load8_u offset=1 (local.get $p)))
        (if (i32.and
              (i32.lt_u (local.get $length) (i32.const 0x80))
              (i32.le_u (i32.add (local.get $length) (i32.const 2)) (i32.sub (local.get $end) (local.get $p))))
          (then
            (local.set $stop (i32.add (i32.add (local.get $p) (i32.const 2)) (local.get $length)))
            (if (i32.eq (local.get $tag) (i32.const 0x0a))
              (then
                (local.set $labels (i32.add (local.get $labels) (i32.const 1)))
                (if (i32.gt_u (local.get $labels) (local.get $maxLabels)) (then unreachable))
                (global.set $pos (i32.add (local.get $p) (i32.const 2)))
                (if (i32.eq (local.get $first) (i32.const -1)) (then (local.set $first (global.get $pos))))
                (call $label (local.get $stop) (local.get $maxValue))
                (local.set $last (local.get $stop))
                (br $field)))
            (if (i32.eq (local.get $tag) (i32.const 0x12))
              (then
                ;; The sample every client writes: the value's tag and 8 bytes, then the
                ;; timestamp's tag and a varint of at most 10 bytes that ends the sample.
                (local.set $p (i32.add (local.get $p) (i32.const 2)))
                (global.set $pos (local.get $p))
                (global.set $samples (i32.add (global.get $samples) (i32.const 1)))
                (if (i32.and
                      (i32.and (i32.eq (i32.load8_u (local.get $p)) (i32.const 0x09))
                        (i32.eq (i32.load8_u offset=9 (local.get $p)) (i32.const 0x10)))
                      (i32.and (i32.ge_u (local.get $length) (i32.const 11))
                        (i32.le_u (local.get $length) (i32.const 20))))
                  (then
                    (local.set $at (i32.add (local.get $p) (i32.const 10)))
                    (block $varint
                      (loop $byte
                        (br_if $varint (i32.ge_u (local.get $at) (i32.sub (local.get $stop) (i32.const 1))))
                        (br_if $varint (i32.lt_u (i32.load8_u (local.get $at)) (i32.const 0x80)))
                        (local.set $at (i32.add (local.get $at) (i32.const 1)))
                        (br $byte)))
                    (if (i32.and (i32.eq (local.get $at) (i32.sub (local.get $stop) (i32.const 1)))
                          (i32.lt_u (i32.load8_u (local.get $at)) (i32.const 0x80)))
                      (then
                        (global.set $pos (local.get $stop))
                        (br $field)))))
                (call $sample (local.get $stop))
                (br $field)))))
        (local.set $tag (call $varint (local.get $end)))
        (if (i32.eq (local.get $tag) (i32.const 0x0a))
          (then
            (local.set $labels (i32.add (local.get $labels) (i32.const 1)))
            (if (i32.gt_u (local.get $labels) (local.get $maxLabels)) (then unreachable))
            (local.set $stop (call $delimited (local.get $end)))
            (if (i32.eq (local.get $first) (i32.const -1)) (then (local.set $first (global.get $pos))))
            (call $label (local.get $stop) (local.get $maxValue))
            (local.set $last (local.get $stop))
            (br $field)))
        (if (i32.ne (local.get $tag) (i32.const 0x12)) (then unreachable))
        (call $sample (call $delimited (local.get $end)))
        (global.set $samples (i32.add (global.get $samples) (i32.const 1)))
        (br $field)))
    (if (i32.eq (local.get $first) (i32.const -1))
      (then
        (global.set $labeled (i32.const 0))
        (return (i32.const 0))))
    (global.set $labeled (i32.const 1))
    (call $key (local.get $first) (local.get $last)))

  ;; `MetricMetadata { 1: type (0-7), 2: family, 4: help, 5: unit }`.
  (func $metadata (param $end i32)
    (local $tag i32) (local $stop i32) (local $i i32)
    (block $done
      (loop $field
        (br_if $done (i32.ge_u (global.get $pos) (local.get $end)))
        (local.set $tag (call $varint (local.get $end)))
        (if (i32.eq (local.get $tag) (i32.const 0x08))
          (then
            (if (i32.gt_u (call $varint (local.get $end)) (i32.const 7)) (then unreachable))
            (br $field)))
        (if (i32.and (i32.ne (local.get $tag) (i32.const 0x12))
              (i32.and (i32.ne (local.get $tag) (i32.const 0x22)) (i32.ne (local.get $tag) (i32.const 0x2a))))
          (then unreachable))
        (local.set $stop (call $delimited (local.get $end)))
        (local.set $i (global.get $pos))
        (block $text
          (loop $byte
            (br_if $text (i32.ge_u (local.get $i) (local.get $stop)))
            (if (i32.ge_u (i32.load8_u (local.get $i)) (i32.const 0x80))
              (then (global.set $ascii (i32.const 0)) (br $text)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $byte)))
        (global.set $pos (local.get $stop))
        (br $field))))

  ;; Checks the `WriteRequest` in memory[$start, $end) and writes each labelled series' key
  ;; at $keys (room for $room). Returns how many keys it wrote (`samples` holds the samples),
  ;; or -2 when the JavaScript validator must decide: text that is not ASCII, or more keys
  ;; than $room. Traps when it does not take the body.
  (func (export "check")
    (param $start i32) (param $end i32) (param $keys i32) (param $room i32)
    (param $maxLabels i32) (param $maxValue i32) (result i32)
    (local $tag i32) (local $stop i32) (local $count i32) (local $key i32)
    (global.set $pos (local.get $start))
    (global.set $samples (i32.const 0))
    (global.set $ascii (i32.const 1))
    (block $done
      (loop $field
        (br_if $done (i32.ge_u (global.get $pos) (local.get $end)))
        (local.set $tag (call $varint (local.get $end)))
        (if (i32.eq (local.get $tag) (i32.const 0x0a))
          (then
            (local.set $key
              (call $series (call $delimited (local.get $end)) (local.get $maxLabels) (local.get $maxValue)))
            (if (global.get $labeled)
              (then
                (if (i32.ge_u (local.get $count) (local.get $room)) (then (return (i32.const -2))))
                (i32.store (i32.add (local.get $keys) (i32.shl (local.get $count) (i32.const 2))) (local.get $key))
                (local.set $count (i32.add (local.get $count) (i32.const 1)))))
            (br $field)))
        (if (i32.ne (local.get $tag) (i32.const 0x1a)) (then unreachable))
        (call $metadata (call $delimited (local.get $end)))
        (br $field)))
    (if (i32.eqz (global.get $ascii)) (then (return (i32.const -2))))
    (local.get $count)))
