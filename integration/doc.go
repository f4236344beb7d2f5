// Package integration holds the tests that run mailverify against real
// software: NSD for DNS, Postfix with several listeners and postgrey, in a
// Linux network namespace on loopback addresses (see harness.sh). They
// are built only with the "integration" tag and need the harness up:
//
//	sudo integration/harness.sh install
//	sudo integration/harness.sh up
//	sudo integration/harness.sh test
//	sudo integration/harness.sh down
//
// .ci/run does all four and then checks that nothing was left behind.
package integration
