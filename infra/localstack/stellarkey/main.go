// Command stellarkey prints a fresh Stellar key pair for local development, as the lines
// of an env file: SOROBAN_DEPLOYER_SEED (the secret seed the contract step signs with) and
// SOROBAN_DEPLOYER_ADDRESS (the account the Stellar RPC double funds). `make
// localstack-keys` writes them to infra/localstack/.env. Use the key with the double or
// testnet only; a key printed to a terminal is not one to hold real funds.
package main

import (
	"fmt"
	"os"

	"github.com/stellar/go/keypair"
)

func main() {
	kp, err := keypair.Random()
	if err != nil {
		fmt.Fprintln(os.Stderr, "stellarkey:", err)
		os.Exit(1)
	}
	fmt.Printf("SOROBAN_DEPLOYER_SEED=%s\nSOROBAN_DEPLOYER_ADDRESS=%s\n", kp.Seed(), kp.Address())
}
