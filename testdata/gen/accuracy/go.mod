module github.com/wiretrace/wiretrace/testdata/gen/accuracy

go 1.25.0

require (
	github.com/go-sql-driver/mysql v1.10.1
	github.com/nats-io/nats.go v1.53.0
)

require (
	filippo.io/edwards25519 v1.2.0 // indirect
	github.com/klauspost/compress v1.18.5 // indirect
	github.com/nats-io/nkeys v0.4.15 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	golang.org/x/crypto v0.49.0 // indirect
	golang.org/x/sys v0.42.0 // indirect
)
