//go:build js

package core

import "github.com/nats-io/nats.go"

// The wasm build has no embedded server (nats-server needs files, sockets and
// threads a browser has not): it reaches a server's WebSocket listener through
// the host's WebSocket (OpenTransport).
type embeddedServer struct {
	srv nats.InProcessConnProvider
}

func acquireEmbedded(*busConfig, *logger) (*embeddedServer, error) {
	return nil, NewError(CodeInvalidArgument,
		"the wasm build has no embedded server: set url to a nats-server WebSocket listener (ws://host:port or wss://host:port)")
}

func (e *embeddedServer) clientURL() string    { return "" }
func (e *embeddedServer) websocketURL() string { return "" }
func (e *embeddedServer) release()             {}
