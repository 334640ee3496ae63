// Package nodesdk checks the ComplyCube simulator and the function against
// ComplyCube's official Node SDK (@complycube/api, pinned in
// testdata/package-lock.json): the SDK must get from the simulator what it
// would get from ComplyCube, and the function must send ComplyCube what the
// SDK sends. It has no code of its own beyond its test.
package nodesdk
