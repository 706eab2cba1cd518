package broker

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// FuzzNormalizeHeaders builds header tables of every value type, nested, from the
// fuzzer's bytes, and checks NormalizeHeaders: it never panics, it leaves its input
// alone, what it returns is a valid table that normalizes to itself (what RabbitMQ
// delivers, delivered again, is the same), or it returns an error.
func FuzzNormalizeHeaders(f *testing.F) {
	f.Add([]byte("\x00k\x01v"))
	f.Add([]byte("\x05a\x07\x08\x09\x00\x01\x02\x03"))
	f.Add([]byte{10, 'n', 10, 'm', 10, 'o', 10, 'p', 1, 'x'})
	f.Add([]byte{11, 0xff, 0xff, 12, 13, 14, 15})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		in := fuzzTable(r, 0)
		snapshot := fmt.Sprintf("%#v", in)
		out, err := NormalizeHeaders(in)
		if fmt.Sprintf("%#v", in) != snapshot {
			t.Fatalf("NormalizeHeaders changed its input:\n%s\n%#v", snapshot, in)
		}
		// Publish checks without copying: it must refuse exactly what NormalizeHeaders does.
		if cerr := checkHeaders(in); (cerr == nil) != (err == nil) {
			t.Fatalf("checkHeaders(%#v) = %v, NormalizeHeaders: %v", in, cerr, err)
		}
		if err != nil {
			return
		}
		if err := out.Validate(); err != nil {
			t.Fatalf("NormalizeHeaders(%#v) = %#v, which does not validate: %v", in, out, err)
		}
		again, err := NormalizeHeaders(out)
		// Compared as printed: a NaN is not DeepEqual to itself.
		if err != nil || fmt.Sprintf("%#v", again) != fmt.Sprintf("%#v", out) {
			t.Fatalf("not idempotent:\n in %#v\nout %#v\nagain %#v, %v", in, out, again, err)
		}
	})
}

func fuzzTable(r *bytes.Reader, depth int) amqp.Table {
	t := amqp.Table{}
	for r.Len() > 0 {
		kind, _ := r.ReadByte()
		if kind == 0xfe && depth > 0 { // end of a nested table
			return t
		}
		key := fuzzString(r)
		t[key] = fuzzValue(r, kind, depth)
	}
	return t
}

func fuzzString(r *bytes.Reader) string {
	n, _ := r.ReadByte()
	b := make([]byte, min(int(n)%8, r.Len()))
	_, _ = r.Read(b)
	return string(b)
}

func fuzzValue(r *bytes.Reader, kind byte, depth int) any {
	u, _ := binary.ReadUvarint(r)
	switch kind % 18 {
	case 0:
		return fuzzString(r)
	case 1:
		return []byte(fuzzString(r))
	case 2:
		return int(u)
	case 3:
		return int8(u)
	case 4:
		return int16(u)
	case 5:
		return int32(u)
	case 6:
		return int64(u)
	case 7:
		return uint8(u)
	case 8:
		return uint16(u)
	case 9:
		return uint32(u)
	case 10:
		return fuzzTable(r, depth+1)
	case 11:
		return float32(math.Float32frombits(uint32(u)))
	case 12:
		return math.Float64frombits(u)
	case 13:
		return u%2 == 0
	case 14:
		return nil
	case 15:
		return time.Unix(int64(u), int64(u%1e9))
	case 16:
		return amqp.Decimal{Scale: uint8(u), Value: int32(u >> 8)}
	default:
		var arr []any
		for i := range int(u % 4) {
			k, _ := r.ReadByte()
			if k%18 == 17 && depth > 3 {
				k = byte(i)
			}
			arr = append(arr, fuzzValue(r, k, depth+1))
		}
		return arr
	}
}
