// Package reliability holds Nubiq Hub's fault, hostile-input, isolation and load tests. They
// run the real endpoint (mcptest), real PostgreSQL and real River workers; docs/RELIABILITY.md
// lists what each covers and how to run it. The package has no code of its own.
package reliability
