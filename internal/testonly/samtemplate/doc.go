// Package samtemplate holds the tests of the AWS SAM files at the
// repository's root, with AWS's own tools: cfn-lint (what `sam validate
// --lint` runs) lints template.yaml; AWS's SAM transform
// (aws-sam-translator, what CloudFormation runs on the template, driven by
// transform.py) turns it into the CloudFormation a `sam deploy` with
// samconfig.toml's values would send; the project's own checks (Facts)
// read that, roles and policies included (each function's exact actions
// on the shared state's one DynamoDB table, and nothing secret for the
// status function), and the table itself; guardfacts.go the sign-up
// guards' parameters and variables, each route's throttling against
// ComplyCube's rate limits, and that every alarm the contract asks for
// exists on the metrics the functions write and fires in time. It also
// checks samconfig.toml, builds every function through the Makefile as
// `sam build` does, and feeds every sample event in events/ to the real
// bootstrap of its function under the Lambda Runtime Interface Emulator.
package samtemplate
