module github.com/wiretrace/wiretrace

go 1.24

require github.com/tidwall/btree v1.8.2 // indirect
