# Run the firmware on the unix port from a ROMFS image, as a board with a ROMFS partition does:
#
#   micropython tools/host/romfs_boot.py build/unix.romfs firmware/main.py CONFIG
#
# The image (made by `make romfs BOARD=unix`) is mounted at /rom and '/rom/lib' goes first on
# sys.path, so every library module is imported from it and its bytecode runs in place. A
# board has the image in memory-mapped flash; the unix port has no such memory, so here the
# image itself sits in the heap (its size is printed: subtract it to get a board's figure).
import gc
import sys
import vfs

img, main_py = sys.argv[1], sys.argv[2]
with open(img, "rb") as f:
    data = f.read()
vfs.mount(vfs.VfsRom(data), "/rom")
sys.path[:] = ["/rom/lib", ".frozen"]
i = main_py.rfind("/")
sys.path.append(main_py[:i] if i > 0 else ".")      # main.py itself stays on the filesystem
gc.collect()
print("ROMFS image %d bytes mounted at /rom (heap now %d)" % (len(data), gc.mem_alloc()))
del sys.argv[:2]                                    # main.py CONFIG
import main  # noqa: E402
sys.exit(main.main(sys.argv))
