//go:build js

// Command wasm is build/netmesh.wasm: core for a JavaScript host, reaching a
// nats-server WebSocket listener through the host's WebSocket (jsws). It hands
// bindings/wasm an object of functions, each answering a Promise with the JSON
// text core answers, or rejecting with {status, text}: the C ABI's code and
// error object.
package main

import (
	"fmt"
	"os"
	"sync"
	"syscall/js"

	"github.com/netmesh/netmesh/core"
	"github.com/netmesh/netmesh/wasm/jsws"
)

var (
	mu     sync.Mutex
	buses  = map[int]*core.Bus{}
	nextID = 1
)

// main hands the API to the global function named by argv[1] and keeps the
// runtime alive for the callbacks.
func main() {
	if len(os.Args) < 2 || js.Global().Get(os.Args[1]).Type() != js.TypeFunction {
		fmt.Fprintln(os.Stderr, "netmesh.wasm: start it through bindings/wasm (argv[1] names the loader's callback)")
		os.Exit(2)
	}
	api := js.Global().Get("Object").New()
	api.Set("version", core.Version)
	api.Set("open", js.FuncOf(func(_ js.Value, args []js.Value) any {
		config, ctor := args[0].String(), args[1]
		return promise(func() (string, error) { return open(config, ctor) })
	}))
	api.Set("call", js.FuncOf(func(_ js.Value, args []js.Value) any {
		op, h, req := args[0].String(), args[1].Int(), args[2].String()
		return promise(func() (string, error) { return call(op, h, req) })
	}))
	js.Global().Get(os.Args[1]).Invoke(api)
	select {}
}

func open(config string, ctor js.Value) (string, error) {
	if ctor.Type() != js.TypeFunction {
		return "", core.NewError(core.CodeInvalidArgument, "no WebSocket constructor (pass one, e.g. the ws package's)")
	}
	b, err := core.OpenTransport([]byte(config), jsws.Transport{Ctor: ctor})
	if err != nil {
		return "", err
	}
	mu.Lock()
	h := nextID
	nextID++
	buses[h] = b
	mu.Unlock()
	return fmt.Sprint(h), nil
}

// call runs one operation on handle h; close forgets the handle first, so
// calls after it answer invalid_handle, as the C ABI's do.
func call(op string, h int, req string) (string, error) {
	mu.Lock()
	b := buses[h]
	if op == "close" {
		delete(buses, h)
	}
	mu.Unlock()
	if b == nil {
		return "", core.NewError(core.CodeInvalidHandle, "invalid handle %d: unknown or already closed", h)
	}
	var out []byte
	var err error
	switch op {
	case "publish":
		out, err = b.Publish([]byte(req))
	case "poll":
		out, err = b.Poll([]byte(req))
	case "commit":
		out, err = b.Commit([]byte(req))
	case "stats":
		out, err = b.Stats()
	case "close":
		err = b.Close()
	default:
		err = core.NewError(core.CodeInternal, "unknown operation %q", op)
	}
	return string(out), err
}

// promise runs work on a goroutine (a JavaScript callback must never block)
// and settles a Promise with its outcome; a panic rejects as internal.
func promise(work func() (string, error)) js.Value {
	executor := js.FuncOf(func(_ js.Value, args []js.Value) any {
		resolve, reject := args[0], args[1]
		go func() {
			defer func() {
				if r := recover(); r != nil {
					reject.Invoke(rejection(core.NewError(core.CodeInternal, "internal error (recovered panic): %v", r)))
				}
			}()
			out, err := work()
			if err != nil {
				reject.Invoke(rejection(err))
				return
			}
			resolve.Invoke(out)
		}()
		return nil
	})
	defer executor.Release() // the Promise constructor calls it at once
	return js.Global().Get("Promise").New(executor)
}

func rejection(err error) js.Value {
	code := core.CodeOf(err)
	if code == core.CodeOK {
		code = core.CodeInternal
	}
	r := js.Global().Get("Object").New()
	r.Set("status", int(code))
	r.Set("text", string(core.ErrorJSON(err)))
	return r
}
