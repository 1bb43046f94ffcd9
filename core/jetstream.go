package core

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// adapter is the JetStream side of a bus, with the semantics of net-mesh's
// JetStream adapter: one stream per shard, created lazily and once, pipelined
// publishes with message ids, and direct-get reads by sequence. It owns the
// connection; the parts below get what they need of it.
type adapter struct {
	cfg      *busConfig
	log      *logger
	embedded *embeddedServer

	nc       *nats.Conn
	readNC   *nats.Conn  // the second read connection (many shards); nil without
	reads2   *readRouter // the reads over readNC
	subjects []string    // per shard
	version  string
	batchGet atomic.Bool // server answers batched direct gets (2.11+)

	streams *streamSet
	pub     publisher
	acks    ackRouter
	reads   readRouter
	index   shardIndex

	open      atomic.Bool
	connected atomic.Bool // kept by connection callbacks: stats must never wait on nc's lock
}

const drainTimeout = 10 * time.Second

func newAdapter(cfg *busConfig, log *logger) *adapter {
	a := &adapter{cfg: cfg, log: log, subjects: make([]string, cfg.Shards)}
	for k := range a.subjects {
		a.subjects[k] = subjectName(cfg.Prefix, k)
	}
	return a
}

// connect connects (starting or joining the embedded server when no url is
// set), detects the server's read capabilities once and opens the reply
// subscriptions.
func (a *adapter) connect() error {
	opts, err := a.connectOptions()
	if err != nil {
		return err
	}
	nc, err := nats.Connect(a.cfg.URL, opts...)
	if err != nil {
		a.releaseEmbedded()
		return wrapError(CodeConnection, errors.New(redactError(err.Error(), a.cfg)), "connect to %s", a.serverLabel())
	}
	a.nc = nc
	a.connected.Store(nc.IsConnected())
	a.version = nc.ConnectedServerVersion()
	a.batchGet.Store(versionAtLeast(a.version, 2, 11))
	js, err := jetstream.New(nc)
	if err != nil {
		a.close()
		return wrapError(CodeInternal, err, "jetstream context")
	}
	if err := a.checkJetStream(js); err != nil {
		a.close()
		return err
	}
	a.streams = newStreamSet(js, a.cfg, a.subjects)
	a.streams.old = !versionAtLeast(a.version, 2, 10)
	a.streams.batchable = versionAtLeast(a.version, 2, 14)
	if a.cfg.StreamsAtInit {
		if err := a.streams.ensureEvery(a.cfg.RequestTimeout); err != nil {
			a.close()
			return err
		}
	}
	inbox := nats.NewInbox()
	a.acks.streams = a.streams
	if err := a.acks.start(nc, a.log, inbox+".a."); err != nil {
		a.close()
		return err
	}
	if err := a.reads.start(nc, a.log, inbox+".r.", a.streams.names, a.subjects, &a.batchGet); err != nil {
		a.close()
		return err
	}
	a.openSecondReads()
	nonce := randomNonce()
	a.pub = publisher{nc: nc, tickSubj: a.cfg.Prefix + ".tick", seen: a.index.learnEnd, subjects: a.subjects, streams: a.streams, acks: &a.acks,
		nonce: nonce, nonceHexLen: len(strconv.FormatUint(nonce, 16))}
	a.index.init(nc, a.log, a.cfg.Prefix, a.pub.tickSubj, inbox+".s", a.cfg.Shards, nc.ConnectedClusterName() != "", a.streams.saw)
	a.warnExtraShards(js)
	a.open.Store(true)
	a.log.Infof("connected to %s (server %s, batched direct get: %v, fast batch publish: %v)", a.serverLabel(), a.version, a.batchGet.Load(), a.streams.batchable)
	return nil
}

// connectOptions are the nats.go options of the config; without url it
// starts or joins the embedded server.
func (a *adapter) connectOptions() ([]nats.Option, error) {
	c := a.cfg
	opts := []nats.Option{
		nats.Name("netmesh"),
		nats.Timeout(c.ConnectTimeout),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DrainTimeout(drainTimeout),
		nats.NoCallbacksAfterClientClose(),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			switch {
			case errors.Is(err, nats.ErrSlowConsumer) && a.index.owns(sub):
				a.index.invalidate()
			case a.index.refused(err):
				a.index.disable(err)
			}
			a.log.Warnf("nats: %v", err)
		}),
		// A write to a server that reads nothing fails after this long instead
		// of nats.go's minute, so a drain or close of such a connection ends.
		nats.FlusherTimeout(c.RequestTimeout),
		nats.DisconnectErrHandler(func(*nats.Conn, error) { a.connected.Store(false) }),
		nats.ReconnectHandler(func(*nats.Conn) {
			a.index.invalidate()
			a.connected.Store(true)
		}),
		nats.ClosedHandler(func(*nats.Conn) { a.connected.Store(false) }),
	}
	if c.URL == "" {
		e, err := acquireEmbedded(c, a.log)
		if err != nil {
			return nil, err
		}
		a.embedded = e
	}
	dial, err := a.dialOptions()
	if err != nil {
		return nil, err
	}
	return append(opts, dial...), nil
}

// dialOptions say where and as whom a connection of this handle connects: the
// embedded server in process, or the url with its credentials and TLS.
func (a *adapter) dialOptions() ([]nats.Option, error) {
	c := a.cfg
	var opts []nats.Option
	if c.Auth.User != "" {
		opts = append(opts, nats.UserInfo(c.Auth.User, c.Auth.Password))
	}
	if c.Auth.Token != "" {
		opts = append(opts, nats.Token(c.Auth.Token))
	}
	if c.URL == "" {
		return append(opts, nats.InProcessServer(a.embedded.srv)), nil
	}
	opts = append(opts, nats.RetryOnFailedConnect(false))
	if c.TLS.CAFile != "" {
		opts = append(opts, nats.RootCAs(c.TLS.CAFile))
	}
	if c.TLS.CertFile != "" {
		opts = append(opts, nats.ClientCert(c.TLS.CertFile, c.TLS.KeyFile))
	}
	if c.Auth.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(c.Auth.CredsFile))
	}
	if c.Auth.NkeySeedFile != "" {
		o, err := nats.NkeyOptionFromSeed(c.Auth.NkeySeedFile)
		if err != nil {
			return nil, wrapError(CodeInvalidArgument, err, "auth.nkey_seed_file")
		}
		opts = append(opts, o)
	}
	if c.transport != nil {
		opts = append(opts, c.transportOptions()...)
	}
	return opts, nil
}

// checkJetStream refuses a server without JetStream at once: its publishes
// would only ever answer "no responders", which reads as retryable. A server
// that does not answer in time (a cluster electing) is given the benefit of
// the doubt.
func (a *adapter) checkJetStream(js jetstream.JetStream) error {
	ctx, cancel := context.WithTimeout(context.Background(), min(a.cfg.RequestTimeout, 2*time.Second))
	defer cancel()
	_, err := js.AccountInfo(ctx)
	if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
		return NewError(CodeConnection, "JetStream is not enabled on the server at %s (run nats-server with -js)", a.serverLabel())
	}
	if err != nil {
		a.log.Warnf("JetStream account info: %v", err)
	}
	return nil
}

// warnExtraShards logs streams of this prefix beyond the configured shard count:
// shards and prefix live in each handle's config, not on the server, so a handle
// configured with fewer shards than a writer would silently never read some.
func (a *adapter) warnExtraShards(js jetstream.JetStream) {
	// Only a warning: never hold up Init for long (a cluster may be electing).
	ctx, cancel := context.WithTimeout(context.Background(), min(a.cfg.RequestTimeout, 2*time.Second))
	defer cancel()
	names := js.StreamNames(ctx, jetstream.WithStreamListSubject(a.cfg.Prefix+".shard.*"))
	head := a.cfg.Prefix + "_shard_"
	for name := range names.Name() {
		if k, ok := parseUintDec([]byte(strings.TrimPrefix(name, head))); ok && strings.HasPrefix(name, head) && k >= uint64(a.cfg.Shards) {
			a.log.Warnf("stream %s exists, but this handle has %d shards: it neither reads nor writes it", name, a.cfg.Shards)
		}
	}
}

func (a *adapter) serverLabel() string {
	if a.embedded != nil {
		return a.embedded.clientURL()
	}
	if a.cfg.URL == "" {
		return "embedded server"
	}
	return a.cfg.RedactedURL()
}

// redactError removes credentials that a client library may echo in a message:
// URL user info, and any auth value (a short one is not masked, since it would
// garble the message and is no secret worth the name).
func redactError(msg string, c *busConfig) string {
	msg = redactURL(msg)
	a := c.Auth
	for _, secret := range []string{a.User, a.Password, a.Token, a.CredsFile, a.NkeySeedFile, c.TLS.KeyFile} {
		if len(secret) >= 4 {
			msg = strings.ReplaceAll(msg, secret, "***")
		}
	}
	return msg
}

// versionAtLeast compares a "major.minor.patch[-x]" server version.
func versionAtLeast(v string, major, minor int) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(strings.TrimFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || (ma == major && mi >= minor)
}

// healthy reports whether the adapter is open and connected.
func (a *adapter) healthy() bool {
	return a.open.Load() && a.connected.Load()
}

// shutdown drains the connection under a bound and releases the embedded server.
// A drain that times out still releases everything and answers transient.
func (a *adapter) shutdown() error {
	if !a.open.Swap(false) {
		return errShutdown
	}
	a.index.stop()
	a.closeSecondReads()
	var err error
	if derr := a.nc.Drain(); derr != nil {
		a.nc.Close()
	}
	// Drain closes the connection itself within DrainTimeout.
	deadline := time.Now().Add(drainTimeout + time.Second)
	for !a.nc.IsClosed() && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	if !a.nc.IsClosed() || errors.Is(a.nc.LastError(), nats.ErrDrainTimeout) {
		err = NewError(CodeTransient, "shutdown: drain timed out after %v; connection closed", drainTimeout)
	}
	a.nc.Close()
	a.releaseEmbedded()
	return err
}

func (a *adapter) close() {
	a.closeSecondReads()
	if a.nc != nil {
		a.nc.Close()
	}
	a.releaseEmbedded()
}

func (a *adapter) releaseEmbedded() {
	if a.embedded != nil {
		a.embedded.release()
		a.embedded = nil
	}
}

func randomNonce() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}
