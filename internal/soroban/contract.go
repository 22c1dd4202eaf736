// Package soroban deploys each tenant's Soroban contract with github.com/stellar/go: it
// installs the contract Wasm once, creates one contract instance per tenant from a salt
// derived from the tenant id (so the contract id is known before anything is sent, and a
// retried deployment finds the contract instead of creating a second), and confirms it.
package soroban

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/google/uuid"
	"github.com/stellar/go/network"
	"github.com/stellar/go/strkey"
	"github.com/stellar/go/xdr"
)

// saltDomain separates our salts from any other use of the deployer account: the same
// tenant id under another product would give another contract.
const saltDomain = "tenant-provisioning/tenant-anchor/v1/"

// Salt is the contract salt for a tenant: sha256 over a fixed domain and the tenant id.
func Salt(tenantID uuid.UUID) [32]byte {
	return sha256.Sum256([]byte(saltDomain + tenantID.String()))
}

// TenantHash is what the contract records about its tenant: the tenant id's sha256, so the
// public ledger links the contract to a tenant only for someone who already knows the id.
func TenantHash(tenantID uuid.UUID) [32]byte {
	return sha256.Sum256([]byte(tenantID.String()))
}

// ContractID derives the contract address the network will assign to a contract created by
// deployer (a G… account) with salt, as the host does it: sha256 of the XDR
// HashIdPreimage{ContractId: {network id, preimage from address}}. The Wasm and the
// constructor arguments do not enter it.
func ContractID(passphrase, deployer string, salt [32]byte) (string, xdr.ContractId, error) {
	preimage, err := fromAddress(deployer, salt)
	if err != nil {
		return "", xdr.ContractId{}, err
	}
	full := xdr.HashIdPreimage{
		Type: xdr.EnvelopeTypeEnvelopeTypeContractId,
		ContractId: &xdr.HashIdPreimageContractId{
			NetworkId:          network.ID(passphrase),
			ContractIdPreimage: preimage,
		},
	}
	raw, err := full.MarshalBinary()
	if err != nil {
		return "", xdr.ContractId{}, fmt.Errorf("contract id preimage: %w", err)
	}
	id := xdr.ContractId(sha256.Sum256(raw))
	addr, err := strkey.Encode(strkey.VersionByteContract, id[:])
	return addr, id, err
}

func fromAddress(deployer string, salt [32]byte) (xdr.ContractIdPreimage, error) {
	account, err := xdr.AddressToAccountId(deployer)
	if err != nil {
		return xdr.ContractIdPreimage{}, fmt.Errorf("deployer address: %w", err)
	}
	return xdr.ContractIdPreimage{
		Type: xdr.ContractIdPreimageTypeContractIdPreimageFromAddress,
		FromAddress: &xdr.ContractIdPreimageFromAddress{
			Address: xdr.ScAddress{Type: xdr.ScAddressTypeScAddressTypeAccount, AccountId: &account},
			Salt:    xdr.Uint256(salt),
		},
	}, nil
}

// codeKey is the ledger key of installed Wasm.
func codeKey(hash xdr.Hash) xdr.LedgerKey {
	return xdr.LedgerKey{Type: xdr.LedgerEntryTypeContractCode, ContractCode: &xdr.LedgerKeyContractCode{Hash: hash}}
}

// instanceKey is the ledger key of a contract's instance entry.
func instanceKey(id xdr.ContractId) xdr.LedgerKey {
	return xdr.LedgerKey{Type: xdr.LedgerEntryTypeContractData, ContractData: &xdr.LedgerKeyContractData{
		Contract:   xdr.ScAddress{Type: xdr.ScAddressTypeScAddressTypeContract, ContractId: &id},
		Key:        xdr.ScVal{Type: xdr.ScValTypeScvLedgerKeyContractInstance},
		Durability: xdr.ContractDataDurabilityPersistent,
	}}
}

// ParseWasmHash reads a hex Wasm hash.
func ParseWasmHash(s string) (xdr.Hash, error) {
	var h xdr.Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("wasm hash must be 64 hex digits")
	}
	copy(h[:], b)
	return h, nil
}
