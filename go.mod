module github.com/baton-dev/baton

go 1.26.0
