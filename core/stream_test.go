package core

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestExistingStreamWithoutDirectGetIsFatal(t *testing.T) {
	b := openMem(t, `,"shards":1`)
	cfg := b.js.streams.config(0)
	cfg.AllowDirect = false
	if _, err := rawJS(t, b).CreateStream(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	_, err := b.Publish([]byte(`{"events":[1]}`))
	if CodeOf(err) != CodeFatal || !strings.Contains(err.Error(), "allow_direct") {
		t.Fatalf("publish to a stream without allow_direct: %v (code %v), want fatal naming allow_direct", err, CodeOf(err))
	}
}

func TestExistingStreamIsUsedAsItIs(t *testing.T) {
	b := openMem(t, `,"shards":1`)
	cfg := b.js.streams.config(0)
	cfg.MaxMsgs = 3 // an operator's own limit: kept, not "fixed"
	if _, err := rawJS(t, b).CreateStream(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Publish([]byte(`{"events":[1,2,3,4,5]}`)); err != nil {
		t.Fatal(err)
	}
	st, err := rawJS(t, b).Stream(context.Background(), cfg.Name)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := st.Info(context.Background())
	if info.Config.MaxMsgs != 3 || info.State.Msgs != 3 {
		t.Fatalf("stream config max_msgs %d, msgs %d: want the existing limit 3 kept", info.Config.MaxMsgs, info.State.Msgs)
	}
}

// Concurrent first publishes to a cold shard create its stream once.
func TestStreamCreatedOnceUnderConcurrency(t *testing.T) {
	b := openMem(t, `,"shards":1`)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, err := b.Publish([]byte(fmt.Sprintf(`{"events":[{"g":%d}]}`, i)))
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	names := rawJS(t, b).StreamNames(context.Background())
	n := 0
	for range names.Name() {
		n++
	}
	st, _ := rawJS(t, b).Stream(context.Background(), "netmesh_shard_0")
	info, _ := st.Info(context.Background())
	if n != 1 || info.State.Msgs != 16 {
		t.Fatalf("%d streams with %d messages, want 1 stream with 16", n, info.State.Msgs)
	}
}

// A stream deleted behind the bus's back is made again by the next publish.
func TestDeletedStreamIsRecreated(t *testing.T) {
	b := openMem(t, `,"shards":1`)
	if _, err := b.Publish([]byte(`{"events":[1]}`)); err != nil {
		t.Fatal(err)
	}
	if err := rawJS(t, b).DeleteStream(context.Background(), "netmesh_shard_0"); err != nil {
		t.Fatal(err)
	}
	out, err := b.Publish([]byte(`{"events":[2,3],"timeout_ms":5000}`))
	if err != nil {
		t.Fatalf("publish after the stream was deleted: %v", err)
	}
	if string(out) != `{"published":2,"duplicates":0}` {
		t.Fatalf("got %s", out)
	}
}

// Headerless batches infer sequences from the EOB; a deleted message inside the
// range makes that impossible, and the range is read again with headers.
func TestPollAcrossDeletedMessages(t *testing.T) {
	b := openMem(t, `,"shards":1`)
	if _, err := b.Publish([]byte(`{"events":[1,2,3,4,5,6,7,8,9,10]}`)); err != nil {
		t.Fatal(err)
	}
	st, err := rawJS(t, b).Stream(context.Background(), "netmesh_shard_0")
	if err != nil {
		t.Fatal(err)
	}
	for _, seq := range []uint64{1, 5, 6, 10} {
		if err := st.DeleteMsg(context.Background(), seq); err != nil {
			t.Fatal(err)
		}
	}
	for _, limit := range []int{1, 3, 100} {
		evs, _ := pollAll(t, b, "", limit, "")
		var got []string
		for _, e := range evs {
			got = append(got, e.ID+"="+string(e.Raw))
		}
		want := "2=2 3=3 4=4 7=7 8=8 9=9"
		if strings.Join(got, " ") != want {
			t.Fatalf("limit %d: read %v, want %s", limit, got, want)
		}
	}
}

func TestWarnsAboutStreamsBeyondShardCount(t *testing.T) {
	dir := t.TempDir()
	cfg := func(shards int) string {
		return storeConfig(dir, `,"memory":true`, fmt.Sprintf(`,"shards":%d`, shards))
	}
	writer := openBus(t, cfg(4))
	if _, err := writer.Publish([]byte(`{"events":[1],"shard":3}`)); err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	l := newLogger("warn", nil)
	l.out.SetOutput(&logged)
	c, err := parseConfig([]byte(cfg(2)))
	if err != nil {
		t.Fatal(err)
	}
	a := newAdapter(&c, l)
	if err := a.connect(); err != nil {
		t.Fatal(err)
	}
	defer a.shutdown()
	if !strings.Contains(logged.String(), "stream netmesh_shard_3 exists, but this handle has 2 shards") {
		t.Fatalf("no warning about shard 3; log: %q", logged.String())
	}
}

// With create_streams "init", mesh_init creates every shard's stream.
func TestStreamsCreatedAtInit(t *testing.T) {
	b := openMem(t, `,"shards":64,"create_streams":"init"`)
	names := rawJS(t, b).StreamNames(context.Background())
	n := 0
	for range names.Name() {
		n++
	}
	if n != 64 {
		t.Fatalf("%d streams after mesh_init, want 64", n)
	}
	_, err := tryOpen(t, memConfig(t, `,"create_streams":"eager"`))
	wantCode(t, err, CodeInvalidArgument, "create_streams")
}
