// Package samtemplate holds the tests of the AWS SAM files at the
// repository's root: template.yaml (validated against the SAM JSON schema
// goformation ships, then checked fact by fact), samconfig.toml, and every
// sample event in events/, fed to the real bootstrap under the Lambda
// Runtime Interface Emulator. It has no code of its own beyond the checks.
package samtemplate
