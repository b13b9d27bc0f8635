package pipe

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// TestReadahead: the bytes come out in order, then the source's error; a
// canceled context stops the reader; Close unblocks a read in progress and
// Wait returns after it.
func TestReadahead(t *testing.T) {
	data := make([]byte, 3*chunk+123)
	for i := range data {
		data[i] = byte(i * 7)
	}
	r := New(t.Context(), iotest.HalfReader(bytes.NewReader(data)), nil)
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("ReadAll = %d bytes, %v; want the %d bytes in order", len(got), err, len(data))
	}
	r.Wait()

	boom := errors.New("boom")
	r = New(t.Context(), io.MultiReader(bytes.NewReader(data[:10]), iotest.ErrReader(boom)), nil)
	if got, err := io.ReadAll(r); !errors.Is(err, boom) || len(got) != 10 {
		t.Errorf("ReadAll = %d bytes, %v; want 10 then boom", len(got), err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	r = New(ctx, bytes.NewReader(data), nil)
	if _, err := io.ReadAll(r); !errors.Is(err, context.Canceled) {
		t.Errorf("ReadAll after cancel = %v, want context.Canceled", err)
	}

	pr, pw := io.Pipe()
	r = New(t.Context(), pr, pr)
	if _, err := pw.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	r.Wait() // the blocked pipe read returns once pr is closed
}
