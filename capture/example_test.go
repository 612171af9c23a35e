package capture_test

import (
	"errors"
	"fmt"
	"io"
	"log"

	"github.com/wiretrace/wiretrace/capture"
)

// Read every packet of a capture file.
func ExampleOpenFile() {
	f, err := capture.OpenFile("../testdata/demo.pcap", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	var p capture.Packet // reused: Data is valid until the next read
	n, bytes := 0, 0
	for {
		err := f.ReadPacket(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		n++
		bytes += p.Length
	}
	fmt.Println(n, "packets,", bytes > 0)
	// Output:
	// 56 packets, true
}
