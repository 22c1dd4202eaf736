// Package statemachine embeds the Amazon States Language definitions, so the local engine
// runs the very file SAM deploys.
package statemachine

import _ "embed"

// Provisioning is statemachine/provisioning.asl.json.
//
//go:embed provisioning.asl.json
var Provisioning []byte

// Upgrade is statemachine/upgrade.asl.json.
//
//go:embed upgrade.asl.json
var Upgrade []byte
