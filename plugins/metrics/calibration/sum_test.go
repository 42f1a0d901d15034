package main

import "testing"

// TestSumKeepsLowOrderDigits: 1 + ten times 1e-16 is 1.000000000000001; a plain float64 sum
// loses every 1e-16 (each is under half an ulp of 1) and stays at 1.
func TestSumKeepsLowOrderDigits(t *testing.T) {
	var s, plain sum
	s.add(1)
	plain.S = 1
	for range 10 {
		s.add(1e-16)
		plain.S += 1e-16
	}
	if plain.S != 1 {
		t.Fatalf("plain sum = %v, the premise is that it stays 1", plain.S)
	}
	if got, want := s.value(), 1.000000000000001; got != want {
		t.Fatalf("compensated sum = %.17g, want %.17g", got, want)
	}
	var a, b sum
	a.add(1)
	for range 5 {
		a.add(1e-16)
		b.add(1e-16)
	}
	a.merge(b)
	if a.value() != s.value() {
		t.Fatalf("merged halves = %.17g, one pass %.17g", a.value(), s.value())
	}
}
