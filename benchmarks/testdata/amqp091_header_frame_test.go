// This file belongs in a copy of amqp091-go v1.16.0's own package (its writer and reader
// are not exported), not in this module; benchmarks/README.md ("Ablation at 10 %") gives
// the commands:
//
//	cp -r $(go env GOMODCACHE)/github.com/rabbitmq/amqp091-go@v1.16.0 /tmp/amqp091 && chmod -R u+w /tmp/amqp091
//	cp benchmarks/testdata/amqp091_header_frame_test.go /tmp/amqp091/
//	cd /tmp/amqp091 && GOWORK=off go test -run '^$' -bench HeaderFrame -benchmem -count 5 .

package amqp091

import (
	"bufio"
	"bytes"
	"testing"
	"time"
)

// benchHeaderFrame times one message's content header frame with headers: encoded as
// Publish sends it, decoded as a delivery is read.
func benchHeaderFrame(b *testing.B, headers Table) {
	hf := &headerFrame{ChannelId: 1, ClassId: 60, Size: 200, Properties: properties{
		ContentType: "application/json", DeliveryMode: 2, MessageId: "ord-0123456789abcdef0123", Headers: headers, Timestamp: time.Unix(1700000000, 0)}}
	var buf bytes.Buffer
	w := &writer{w: &buf}
	if err := w.WriteFrame(hf); err != nil {
		b.Fatal(err)
	}
	enc := append([]byte(nil), buf.Bytes()...)
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		var out bytes.Buffer
		w := &writer{w: &out}
		for i := 0; i < b.N; i++ {
			out.Reset()
			if err := w.WriteFrame(hf); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(enc)), "frame-B")
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		rd := bytes.NewReader(enc)
		br := bufio.NewReader(rd)
		for i := 0; i < b.N; i++ {
			rd.Reset(enc)
			br.Reset(rd)
			r := reader{r: br}
			if _, err := r.ReadFrame(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkHeaderFrame: what jaeger-client's uber-trace-id header costs amqp091 on each
// message step 03's checkout publishes and stock consumes, against step 01's headers.
func BenchmarkHeaderFrame(b *testing.B) {
	b.Run("01", func(b *testing.B) {
		benchHeaderFrame(b, Table{"x-request-id": "req-0123456789abcdef"})
	})
	b.Run("03", func(b *testing.B) {
		benchHeaderFrame(b, Table{"x-request-id": "req-0123456789abcdef", "uber-trace-id": "6a4c1fbd2e3b4f01:6a4c1fbd2e3b4f01:0000000000000000:0"})
	})
}
