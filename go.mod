module github.com/spiredb/spire-port

go 1.26.8

require (
	github.com/linxGnu/grocksdb v1.7.14
	github.com/okeuday/erlang_go/v2 v2.0.7
	github.com/stretchr/testify v1.12.1
	github.com/vmihailenco/msgpack/v5 v5.4.1
)

require (
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)
