package core

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
)

// With many shards a poll asks many shards at once, and the server answers a
// connection's direct gets one after another on that connection's reader; a
// second connection for reads lets it answer two at a time.
const readSpreadShards = 64

// openSecondReads opens the second read connection of a handle with many
// shards. Without it (fewer shards, a Transport, or it failed) every read goes
// over the main connection.
func (a *adapter) openSecondReads() {
	if a.cfg.Shards < readSpreadShards || a.cfg.transport != nil {
		return
	}
	dial, err := a.dialOptions()
	if err == nil {
		opts := append([]nats.Option{nats.Name("netmesh-reads"), nats.Timeout(a.cfg.ConnectTimeout),
			nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond), nats.NoCallbacksAfterClientClose(),
			nats.FlusherTimeout(a.cfg.RequestTimeout)}, dial...)
		var nc *nats.Conn
		if nc, err = nats.Connect(a.cfg.URL, opts...); err == nil {
			r := &readRouter{}
			if err = r.start(nc, a.log, nats.NewInbox()+".r.", a.streams.names, a.subjects, &a.batchGet); err == nil {
				a.readNC, a.reads2 = nc, r
				return
			}
			nc.Close()
		}
	}
	a.log.Warnf("reads share the one connection: second read connection: %v", err)
}

// readAll reads one round; with a second read connection every other read
// goes over it, and both halves run at once.
func (a *adapter) readAll(ctx context.Context, reads []*shardRead) error {
	if a.reads2 == nil || len(reads) < 2 {
		return a.reads.readAll(ctx, reads)
	}
	var first, second []*shardRead
	for i, rd := range reads {
		if i%2 == 0 {
			first = append(first, rd)
		} else {
			second = append(second, rd)
		}
	}
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- NewError(CodeInternal, "internal error (recovered panic in a read): %v", r)
			}
		}()
		done <- a.reads2.readAll(ctx, second)
	}()
	err := a.reads.readAll(ctx, first)
	if err2 := <-done; err == nil {
		err = err2
	}
	return err
}

// closeSecondReads closes the second read connection; no read is running.
func (a *adapter) closeSecondReads() {
	if a.readNC != nil {
		a.readNC.Close()
	}
}
