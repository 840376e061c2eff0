package vfs

import (
	"bytes"
	"math/rand"
	"runtime"
	"testing"
	"time"

	"kvsentry/mm"

	"golang.org/x/sys/unix"
)

// checkHeld verifies md's page accounting against the pool and its index.
func checkHeld(t *testing.T, md *memData, pool *mm.Pool, free0 uint64, step int) {
	t.Helper()
	var n int64
	for _, c := range md.chunks {
		for _, s := range c {
			if s != 0 {
				n++
				if pool.RefCount(s-1) != 1 {
					t.Fatalf("step %d: page %#x refcount %d", step, s-1, pool.RefCount(s-1))
				}
			}
		}
	}
	if n != md.held {
		t.Fatalf("step %d: held %d, index has %d", step, md.held, n)
	}
	if got := free0 - pool.FreePages(); got != uint64(md.held)+md.resN {
		t.Fatalf("step %d: pool lent %d pages, content holds %d + reserve %d", step, got, md.held, md.resN)
	}
}

func TestMemDataModel(t *testing.T) {
	pool, err := mm.NewPool(256 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	free0 := pool.FreePages()
	md := newMemData(pool)
	var model []byte
	rng := rand.New(rand.NewSource(1))
	const span = 3 << 20
	randOff := func() int64 {
		switch rng.Intn(3) {
		case 0:
			return int64(rng.Intn(span))
		case 1:
			return int64(rng.Intn(span/pageSize)) * pageSize
		}
		return int64(len(model)) + int64(rng.Intn(3*pageSize)) - pageSize
	}
	buf := make([]byte, 300<<10)
	for step := 0; step < 10000; step++ {
		switch op := rng.Intn(10); {
		case op < 4: // write
			off := max(0, randOff())
			n := rng.Intn(70 << 10)
			if rng.Intn(10) == 0 {
				n = rng.Intn(len(buf))
			}
			src := buf[:n]
			rng.Read(src)
			k, err := md.writeAt(src, off)
			if err != nil || k != n {
				t.Fatalf("step %d: write %d at %d: %d %v", step, n, off, k, err)
			}
			if end := int(off) + n; end > len(model) && n > 0 {
				model = append(model, make([]byte, end-len(model))...)
			}
			copy(model[off:], src)
		case op < 7: // read
			off := max(0, randOff())
			dst := buf[:rng.Intn(len(buf))]
			for i := range dst {
				dst[i] = 0xAA
			}
			k, err := md.readAt(dst, off)
			want := 0
			if int(off) < len(model) {
				want = min(len(dst), len(model)-int(off))
			}
			if err != nil || k != want {
				t.Fatalf("step %d: read %d at %d: %d %v, want %d", step, len(dst), off, k, err, want)
			}
			if !bytes.Equal(dst[:k], model[off:int(off)+k]) {
				t.Fatalf("step %d: read at %d differs from the model", step, off)
			}
		case op < 8: // truncate
			size := int64(rng.Intn(span))
			if rng.Intn(2) == 0 {
				size = int64(len(model)) - int64(rng.Intn(2*pageSize))
			}
			size = max(0, size)
			md.truncate(size)
			if int(size) < len(model) {
				model = model[:size]
			} else {
				model = append(model, make([]byte, int(size)-len(model))...)
			}
		case op < 9: // punch / zero range inside the file
			if len(model) == 0 {
				continue
			}
			off := int64(rng.Intn(len(model)))
			end := min(int64(len(model)), off+int64(rng.Intn(5*pageSize)))
			md.zeroRange(off, end)
			clear(model[off:end])
		default: // allocate (fallocate KEEP_SIZE), sometimes drop the reserve
			off := max(0, randOff())
			if err := md.allocRange(off, off+int64(rng.Intn(4*pageSize))); err != nil {
				t.Fatalf("step %d: alloc: %v", step, err)
			}
			if rng.Intn(3) == 0 {
				md.trimReserve()
			}
		}
		if md.Size() != int64(len(model)) {
			t.Fatalf("step %d: size %d, model %d", step, md.Size(), len(model))
		}
		if step%500 == 0 {
			checkHeld(t, md, pool, free0, step)
		}
	}
	checkHeld(t, md, pool, free0, -1)
	got := make([]byte, len(model))
	if k, err := md.readAt(got, 0); err != nil || k != len(model) || !bytes.Equal(got, model) {
		t.Fatalf("final read: %d %v, equal %v", k, err, bytes.Equal(got, model))
	}
	md.release()
	md.release()
	if pool.FreePages() != free0 {
		t.Fatalf("after release the pool has %d free pages, want %d", pool.FreePages(), free0)
	}
}

// TestMemDataRuns checks that a sequentially written file is moved in few
// runs (one system call each) and that small files take single pages.
func TestMemDataRuns(t *testing.T) {
	pool, err := mm.NewPool(64 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	md := newMemData(pool)
	chunk := make([]byte, 1<<20)
	for i := 0; i < 16; i++ {
		if _, err := md.writeAt(chunk, int64(i)<<20); err != nil {
			t.Fatal(err)
		}
	}
	runs := 0
	md.runs(0, 16<<20, func(int, uint64, int) error { runs++; return nil }, func(int, int) { t.Fatal("hole in a written file") })
	if runs > 16 {
		t.Errorf("16 MiB written in 1 MiB pieces moves in %d runs, want at most 16", runs)
	}
	md.release()

	small := newMemData(pool)
	free0 := pool.FreePages()
	for i := 0; i < 5; i++ {
		small.writeAt(make([]byte, 4096), int64(i)*4096)
	}
	small.writeAt([]byte("tail"), 5*4096)
	small.trimReserve()
	if small.pagesHeld() != 6 || free0-pool.FreePages() != 6 {
		t.Errorf("a 6-page file holds %d pages, pool lent %d", small.pagesHeld(), free0-pool.FreePages())
	}
	if off, err := small.seekHoleData(0, true); err != nil || off != small.Size() {
		t.Errorf("SEEK_HOLE in a full file: %d %v", off, err)
	}
	small.zeroRange(4096, 8192)
	if off, _ := small.seekHoleData(0, true); off != 4096 {
		t.Errorf("SEEK_HOLE after a punch: %d, want 4096", off)
	}
	if off, _ := small.seekHoleData(4096, false); off != 8192 {
		t.Errorf("SEEK_DATA after a punch: %d, want 8192", off)
	}
	small.release()
}

// memSetup is setup with a pool, returning it.
func memSetup(t *testing.T) (*VFS, *Ctx, *mm.Pool) {
	t.Helper()
	dir := buildRootfs(t)
	pool, err := mm.NewPool(256 << 20)
	if err != nil {
		t.Fatal(err)
	}
	v, err := New(Options{RootDir: dir, Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	return v, &Ctx{Root: v.Root(), Cwd: v.Root(), PID: 7}, pool
}

func TestMemFilePagesReturn(t *testing.T) {
	v, c, pool := memSetup(t)
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	for _, name := range []string{"/tmp/big", "/big"} {    // tmpfs, overlay
		free0 := pool.FreePages()
		f, err := v.Open(c, Path{}, name, unix.O_RDWR|unix.O_CREAT, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := f.Write(big); err != nil || n != len(big) {
			t.Fatalf("write: %d %v", n, err)
		}
		st, _ := f.Stat()
		if st.Blocks != int64(len(big))/512 {
			t.Errorf("%s: st_blocks %d, want %d", name, st.Blocks, len(big)/512)
		}
		wantErr(t, "unlink", v.Unlink(c, Path{}, name), nil)
		got := make([]byte, len(big))
		if n, err := f.Pread(got, 0); err != nil || n != len(big) || !bytes.Equal(got, big) {
			t.Fatalf("%s: read after unlink: %d %v", name, n, err)
		}
		if pool.FreePages() == free0 {
			t.Fatalf("%s: content gone while still open", name)
		}
		f.DecRef()
		if pool.FreePages() != free0 {
			t.Errorf("%s: unlink+close left %d pages", name, free0-pool.FreePages())
		}
	}

	// Truncation frees pages; a shell-like create/delete loop leaks none.
	free0 := pool.FreePages()
	writeFile(t, v, c, "/tmp/t", string(big))
	f, err := v.Open(c, Path{}, "/tmp/t", unix.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "truncate", f.Truncate(5000), nil)
	if lent := free0 - pool.FreePages(); lent != 2 {
		t.Errorf("a 5000-byte file holds %d pages, want 2", lent)
	}
	if got := readAll(t, v, c, "/tmp/t"); got != string(big[:5000]) {
		t.Errorf("truncated content differs")
	}
	wantErr(t, "grow", f.Truncate(1<<20), nil)
	if got := readAll(t, v, c, "/tmp/t"); got != string(big[:5000])+string(make([]byte, 1<<20-5000)) {
		t.Errorf("grown content differs")
	}
	f.DecRef()
	wantErr(t, "unlink", v.Unlink(c, Path{}, "/tmp/t"), nil)
	for i := 0; i < 50; i++ {
		writeFile(t, v, c, "/tmp/loop", "some content\n")
		wantErr(t, "rename", v.Rename(c, Path{}, "/tmp/loop", Path{}, "/tmp/loop2", 0), nil)
		writeFile(t, v, c, "/tmp/loop", "other\n")
		wantErr(t, "rename over", v.Rename(c, Path{}, "/tmp/loop", Path{}, "/tmp/loop2", 0), nil)
		wantErr(t, "unlink", v.Unlink(c, Path{}, "/tmp/loop2"), nil)
	}
	if pool.FreePages() != free0 {
		t.Errorf("truncate and create/delete loops left %d pages", free0-pool.FreePages())
	}

	// An O_TMPFILE file goes with its last close; one given a name stays.
	tf, err := v.Open(c, Path{}, "/tmp", unix.O_TMPFILE|unix.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	tf.Write(big)
	tf.DecRef()
	if pool.FreePages() != free0 {
		t.Errorf("O_TMPFILE close left %d pages", free0-pool.FreePages())
	}
}

// TestMemFilePrivatePool: a VFS without a pool keeps content in its own.
func TestMemFilePrivatePool(t *testing.T) {
	v, c, _ := setup(t, nil)
	writeFile(t, v, c, "/tmp/p", "private")
	if got := readAll(t, v, c, "/tmp/p"); got != "private" {
		t.Fatalf("got %q", got)
	}
	if v.privPool == nil {
		t.Fatal("no private pool made")
	}
}

// TestMemFileMappingKeepsContent: a mapping (which holds no File) keeps an
// unlinked, closed file's content until the mapping handle goes.
func TestMemFileMappingKeepsContent(t *testing.T) {
	v, c, pool := memSetup(t)
	free0 := pool.FreePages()
	writeFile(t, v, c, "/tmp/m", "mapped content")
	f, err := v.Open(c, Path{}, "/tmp/m", unix.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	m, _, _, err := f.Mappable()
	if err != nil {
		t.Fatal(err)
	}
	f.DecRef()
	wantErr(t, "unlink", v.Unlink(c, Path{}, "/tmp/m"), nil)
	buf := make([]byte, 14)
	if n, _ := m.ReadAt(buf, 0); n != 14 || string(buf) != "mapped content" {
		t.Fatalf("mapping reads %q after unlink and close", buf[:n])
	}
	m = nil
	for i := 0; i < 100 && pool.FreePages() != free0; i++ {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if pool.FreePages() != free0 {
		t.Errorf("content outlived its last mapping: %d pages", free0-pool.FreePages())
	}
}

// TestMemDataHugeSparse checks that a file almost as large as the largest
// allowed, holding two pages, is cheap to zero, seek and allocate in: the
// work follows the pages held, not the size (a guest could otherwise make
// the sentry walk 2^28 pages or allocate a 1 TiB buffer), and that a
// fallocate the pool cannot satisfy gives back what it took.
func TestMemDataHugeSparse(t *testing.T) {
	pool, err := mm.NewPool(8 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	free0 := pool.FreePages()
	md := newMemData(pool)
	const size = maxFileSize - pageSize
	md.truncate(size)
	if _, err := md.writeAt([]byte("a"), 5*pageSize+7); err != nil {
		t.Fatal(err)
	}
	if _, err := md.writeAt([]byte("z"), size-1); err != nil {
		t.Fatal(err)
	}
	if got, err := md.seekHoleData(0, false); err != nil || got != 5*pageSize {
		t.Errorf("SEEK_DATA from 0 = %d, %v; want %d", got, err, 5*pageSize)
	}
	if got, err := md.seekHoleData(6*pageSize, false); err != nil || got != size-pageSize {
		t.Errorf("SEEK_DATA from page 6 = %d, %v; want %d", got, err, int64(size-pageSize))
	}
	if got, err := md.seekHoleData(5*pageSize, true); err != nil || got != 6*pageSize {
		t.Errorf("SEEK_HOLE from page 5 = %d, %v; want %d", got, err, 6*pageSize)
	}
	before := pool.FreePages()
	if err := md.allocRange(0, size); err != unix.ENOSPC {
		t.Fatalf("fallocate of ~1 TiB in an 8 MiB pool: %v, want ENOSPC", err)
	}
	if pool.FreePages() != before || md.pagesHeld() != 2 {
		t.Fatalf("a failed fallocate kept pages: free %d (was %d), held %d", pool.FreePages(), before, md.pagesHeld())
	}
	md.zeroRange(0, size)
	if md.pagesHeld() != 0 {
		t.Errorf("punching the whole file left %d pages", md.pagesHeld())
	}
	md.release()
	if pool.FreePages() != free0 {
		t.Errorf("pool free pages %d, want %d", pool.FreePages(), free0)
	}
}
