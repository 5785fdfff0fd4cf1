module github.com/cport/cport/example

go 1.26.8

require github.com/cport/cport v0.0.0

require (
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/text v0.44.0 // indirect
)

replace github.com/cport/cport => ../
