package srppo

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
)

// Tensor is a named host tensor as stored in a safetensors file. Data holds float32 values for
// "F32" and int64 values (converted to float64 exactly up to 2^53) for "I64".
type Tensor struct {
	DType string // "F32" or "I64"
	Shape []int
	F32   []float32
	I64   []int64
}

type stEntry struct {
	DType   string   `json:"dtype"`
	Shape   []int    `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

// EncodeSafetensors serialises tensors in the safetensors format (8-byte little-endian header
// length, JSON header, raw little-endian data), names sorted for a deterministic byte stream.
func EncodeSafetensors(ts map[string]Tensor, metadata map[string]string) ([]byte, error) {
	names := make([]string, 0, len(ts))
	for n := range ts {
		names = append(names, n)
	}
	sort.Strings(names)
	header := map[string]any{}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var data bytes.Buffer
	for _, n := range names {
		t := ts[n]
		size := 1
		for _, d := range t.Shape {
			size *= d
		}
		start := int64(data.Len())
		switch t.DType {
		case "F32":
			if len(t.F32) != size {
				return nil, fmt.Errorf("tensor %q: %d values for shape %v", n, len(t.F32), t.Shape)
			}
			for _, v := range t.F32 {
				binary.Write(&data, binary.LittleEndian, math.Float32bits(v))
			}
		case "I64":
			if len(t.I64) != size {
				return nil, fmt.Errorf("tensor %q: %d values for shape %v", n, len(t.I64), t.Shape)
			}
			binary.Write(&data, binary.LittleEndian, t.I64)
		default:
			return nil, fmt.Errorf("tensor %q: unsupported dtype %q", n, t.DType)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[n] = stEntry{DType: t.DType, Shape: shape, Offsets: [2]int64{start, int64(data.Len())}}
	}
	hj, err := json.Marshal(header)
	if err != nil {
		return nil, err
	}
	for len(hj)%8 != 0 { // the format recommends 8-byte alignment of the data section
		hj = append(hj, ' ')
	}
	var out bytes.Buffer
	binary.Write(&out, binary.LittleEndian, uint64(len(hj)))
	out.Write(hj)
	out.Write(data.Bytes())
	return out.Bytes(), nil
}

// ReadSafetensors reads a safetensors file holding F32, F16, BF16 or I64 tensors (half
// precisions are widened to float32); errors name the file and tensor.
func ReadSafetensors(path string) (map[string]Tensor, map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	ts, meta, err := DecodeSafetensors(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return ts, meta, nil
}

// maxHeaderBytes bounds a safetensors JSON header (the format's own limit is 100 MB).
const maxHeaderBytes = 100 << 20

// stWidth is the byte width of each dtype the reader accepts.
var stWidth = map[string]int64{"F32": 4, "F16": 2, "BF16": 2, "I64": 8}

// DecodeSafetensors parses the bytes of a safetensors file. The whole header is checked before
// any tensor is allocated: its length, every dtype, every shape's element count (without
// overflow) against its data offsets, and the offsets against the data section — so no file,
// however malformed, allocates more than its own size or crashes the reader.
func DecodeSafetensors(raw []byte) (map[string]Tensor, map[string]string, error) {
	if len(raw) < 8 {
		return nil, nil, fmt.Errorf("%d bytes: too short for a safetensors file (8-byte header length first)", len(raw))
	}
	n := binary.LittleEndian.Uint64(raw[:8])
	if n > maxHeaderBytes {
		return nil, nil, fmt.Errorf("header length %d exceeds the limit of %d bytes", n, maxHeaderBytes)
	}
	if n > uint64(len(raw)-8) {
		return nil, nil, fmt.Errorf("header length %d exceeds file size %d", n, len(raw))
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(raw[8:8+n], &header); err != nil {
		return nil, nil, fmt.Errorf("header: %w", err)
	}
	data := raw[8+n:]
	var meta map[string]string
	entries := map[string]stEntry{}
	names := make([]string, 0, len(header))
	for name, msg := range header {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &meta); err != nil {
				return nil, nil, fmt.Errorf("metadata: %w", err)
			}
			continue
		}
		var e stEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		if err := e.check(int64(len(data))); err != nil {
			return nil, nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		entries[name] = e
		names = append(names, name)
	}
	sort.Strings(names) // a deterministic first error
	ts := map[string]Tensor{}
	for _, name := range names {
		e := entries[name]
		buf := data[e.Offsets[0]:e.Offsets[1]]
		size := len(buf) / int(stWidth[e.DType])
		t := Tensor{DType: "F32", Shape: e.Shape}
		switch e.DType {
		case "I64":
			t.DType = "I64"
			t.I64 = make([]int64, size)
			for i := range t.I64 {
				t.I64[i] = int64(binary.LittleEndian.Uint64(buf[8*i:]))
			}
		case "F32":
			t.F32 = make([]float32, size)
			for i := range t.F32 {
				t.F32[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
			}
		case "F16":
			t.F32 = make([]float32, size)
			for i := range t.F32 {
				t.F32[i] = float16ToFloat32(binary.LittleEndian.Uint16(buf[2*i:]))
			}
		case "BF16":
			t.F32 = make([]float32, size)
			for i := range t.F32 {
				t.F32[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(buf[2*i:])) << 16)
			}
		}
		ts[name] = t
	}
	return ts, meta, nil
}

// check validates a header entry against a data section of dataLen bytes: a known dtype,
// non-negative dimensions whose product times the dtype's width equals the byte range exactly
// (computed without overflow), and a byte range inside the data.
func (e stEntry) check(dataLen int64) error {
	width, ok := stWidth[e.DType]
	if !ok {
		return fmt.Errorf("unsupported dtype %q (F32, F16, BF16 or I64)", e.DType)
	}
	b, end := e.Offsets[0], e.Offsets[1]
	if b < 0 || end < b || end > dataLen {
		return fmt.Errorf("data offsets %v outside the %d data bytes", e.Offsets, dataLen)
	}
	// Every element needs width bytes of the range, so the count is bounded by the range and the
	// product is checked against that bound before each multiplication.
	maxElems := (end - b) / width
	elems := int64(1)
	for _, d := range e.Shape {
		if d < 0 {
			return fmt.Errorf("negative dimension in shape %v", e.Shape)
		}
	}
	if !slices.Contains(e.Shape, 0) {
		for _, d := range e.Shape {
			if elems > maxElems/int64(d) {
				return fmt.Errorf("shape %v of %s needs more than the %d bytes of data offsets %v", e.Shape, e.DType, end-b, e.Offsets)
			}
			elems *= int64(d)
		}
	} else {
		elems = 0
	}
	if elems*width != end-b {
		return fmt.Errorf("%d bytes for shape %v of %s (%d elements × %d bytes)", end-b, e.Shape, e.DType, elems, width)
	}
	return nil
}

// float16ToFloat32 widens an IEEE 754 half-precision value.
func float16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal
		return float32(math.Copysign(float64(frac)*math.Pow(2, -24), float64(int32(sign)|1)))
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
}
