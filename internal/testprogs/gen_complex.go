package testprogs

// A program too complex for the verifier (testdata/complex.c).
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -output-stem complex complex ../../testdata/complex.c -- -I../../bpf/include

// Complex names the object whose program complex the verifier refuses as
// too complex ("The sequence of 8193 jumps is too complex").
const Complex = "complex"

func init() {
	objects[Complex] = object{_ComplexBytes, "complex"}
}
