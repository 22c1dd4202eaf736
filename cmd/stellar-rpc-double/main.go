// Command stellar-rpc-double serves the in-memory Stellar RPC double (internal/local/stellarrpc) on
// a local address for the dev stack: the real JSON-RPC protocol, no network, state lost on
// exit. Each call is logged as JSON on stderr with its method and outcome.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/stellar/go/strkey"

	"github.com/healthstack/tenant-provisioning/internal/config"
	"github.com/healthstack/tenant-provisioning/internal/local/stellarrpc"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], log); err != nil {
		log.Error("stellar-rpc-double stopped", "error", err.Error())
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, log *slog.Logger) error {
	fs := flag.NewFlagSet("stellar-rpc-double", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8000", "listen address")
	networkName := fs.String("network", "local", "network whose passphrase to sign with: local, testnet, futurenet or mainnet")
	protocolVersion := fs.Int("protocol", stellarrpc.DefaultProtocolVersion, "protocol version to report")
	balance := fs.Int64("balance", 10_000_0000000, "balance in stroops of each -fund account")
	ledgerClose := fs.Duration("ledger-close", 0, "close a ledger this often (e.g. 5s, as the real networks do): transactions confirm at the next close, one in flight per account; 0 confirms at once")
	var fund []string
	fs.Func("fund", "create this G... account at start (repeatable)", func(v string) error {
		if !strkey.IsValidEd25519PublicKey(v) {
			return errors.New("not a G... account address")
		}
		fund = append(fund, v)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	passphrase, ok := config.NetworkPassphrase(*networkName)
	if !ok {
		return fmt.Errorf("-network %q: want local, testnet, futurenet or mainnet", *networkName)
	}

	double := stellarrpc.New(passphrase, stellarrpc.WithProtocolVersion(*protocolVersion), stellarrpc.WithLogger(log),
		stellarrpc.WithLedgerClose(*ledgerClose))
	defer double.Close()
	for _, a := range fund {
		double.Fund(a, *balance)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: double, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("serving", "addr", ln.Addr().String(), "network", *networkName, "protocol", *protocolVersion,
		"funded", strings.Join(fund, ","))

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}
