package ebpf

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ContainerID returns the container id named by a /proc/PID/cgroup file,
// or "": the 64-hex id of the last path element that has one, as Docker
// (/docker/ID, docker-ID.scope), containerd (cri-containerd-ID.scope),
// CRI-O (crio-ID.scope) and Podman (libpod-ID.scope) name their cgroups.
// The cgroup v2 line (0::PATH) is preferred over v1 lines.
func ContainerID(cgroupFile string) string {
	id := ""
	for line := range strings.Lines(cgroupFile) {
		hier, rest, ok := strings.Cut(strings.TrimRight(line, "\r\n"), ":")
		if !ok {
			continue
		}
		_, path, ok := strings.Cut(rest, ":")
		if !ok {
			continue
		}
		v := pathContainerID(path)
		if v == "" {
			continue
		}
		if hier == "0" {
			return v
		}
		if id == "" {
			id = v
		}
	}
	return id
}

// pathContainerID returns the container id in the last element of a cgroup
// path that has one.
func pathContainerID(path string) string {
	for path != "" {
		i := strings.LastIndexByte(path, '/')
		elem := path[i+1:]
		if i < 0 {
			path = ""
		} else {
			path = path[:i]
		}
		elem = strings.TrimSuffix(elem, ".scope")
		if j := strings.LastIndexAny(elem, "-:"); j >= 0 {
			elem = elem[j+1:]
		}
		if len(elem) == 64 && isHex(elem) {
			return elem
		}
	}
	return ""
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// capEff returns the effective capability set of a /proc/PID/status file.
func capEff(status string) (uint64, error) {
	for line := range strings.Lines(status) {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return 0, fmt.Errorf("ebpf: CapEff %q: %w", strings.TrimSpace(v), err)
			}
			return n, nil
		}
	}
	return 0, errors.New("ebpf: no CapEff in /proc/self/status")
}
