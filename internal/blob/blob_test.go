package blob

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestPutReadRemove(t *testing.T) {
	dir := t.TempDir()
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	data := []byte("Subject: hi\r\n\r\nbody\r\n")
	id, err := d.Put(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	if id != ID(data) || len(id) != 64 {
		t.Fatalf("id = %q", id)
	}
	// Put again: same id, the file is not rewritten.
	p := filepath.Join(dir, id[:2], id[2:4], id)
	before, _ := os.Stat(p)
	if again, err := d.Put(ctx, data); err != nil || again != id {
		t.Fatalf("second put = %q, %v", again, err)
	}
	if after, _ := os.Stat(p); !after.ModTime().Equal(before.ModTime()) {
		t.Fatal("second put rewrote the file")
	}
	got, err := d.Read(ctx, id)
	if err != nil || string(got) != string(data) {
		t.Fatalf("read = %q, %v", got, err)
	}
	r, err := d.Open(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	streamed, _ := io.ReadAll(r)
	r.Close()
	if string(streamed) != string(data) {
		t.Fatalf("open = %q", streamed)
	}
	if err := d.Remove(id); err != nil {
		t.Fatal(err)
	}
	if err := d.Remove(id); err != nil {
		t.Fatalf("removing twice: %v", err)
	}
	if _, err := d.Read(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("read after remove: %v", err)
	}
	// Ensure brings a missing file back.
	if err := d.Ensure(ctx, nil, id, data); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.Read(ctx, id); string(got) != string(data) {
		t.Fatal("Ensure did not restore the blob")
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(entries) != 0 {
		t.Fatalf("temporary files left: %d", len(entries))
	}
}

func TestBadIDs(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, id := range []string{"", "abc", "../../../../etc/passwd", "zz" + ID(nil)[2:], ID(nil) + "0"} {
		if _, err := d.Read(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Read(%q) = %v, want ErrNotFound", id, err)
		}
		if _, err := d.Open(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Open(%q) = %v, want ErrNotFound", id, err)
		}
		if err := d.Remove(id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Remove(%q) = %v, want ErrNotFound", id, err)
		}
	}
}
