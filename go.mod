module github.com/wiretrace/wiretrace

go 1.24
