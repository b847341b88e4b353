package main

import "encoding/binary"

// Values from linux/capability.h. A VFS_CAP_REVISION_2 xattr is what setcap
// writes outside a user namespace; revision 3 only adds the namespace's root
// uid, which an image must not fix.
const (
	vfsCapRevision2     = 0x02000000
	vfsCapFlagEffective = 0x000001
	capNetBindService   = 10
	capabilityXattr     = "security.capability"
)

// netBindServiceCapability is the security.capability value of
// `setcap cap_net_bind_service=ep`: struct vfs_cap_data, little endian,
// magic_etc followed by {permitted, inheritable} for capability words 0 and 1.
func netBindServiceCapability() []byte {
	words := []uint32{
		vfsCapRevision2 | vfsCapFlagEffective,
		1 << capNetBindService, 0, // word 0: permitted, inheritable
		0, 0, // word 1
	}
	b := make([]byte, 0, 4*len(words))
	for _, w := range words {
		b = binary.LittleEndian.AppendUint32(b, w)
	}
	return b
}
