// Package proto holds the vistudy plugin protocol (vistudy.proto) and its generated Go code.
package proto

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative vistudy.proto
