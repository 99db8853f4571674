#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>

#include "base/error.h"
#include "fs/metadata.h"

namespace lifeboat::fs {

std::vector<Extent> data_extents(int fd, uint64_t size) {
  std::vector<Extent> extents;
  uint64_t pos = 0;
  while (pos < size) {
    off_t data = lseek(fd, static_cast<off_t>(pos), SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break;  // no data after pos: the rest is a hole
      if (errno == EINVAL && pos == 0) return {{0, size}};  // no SEEK_DATA here
      throw_errno("find data in file descriptor " + std::to_string(fd));
    }
    if (static_cast<uint64_t>(data) >= size) break;
    off_t hole = lseek(fd, data, SEEK_HOLE);
    uint64_t end = size;
    if (hole < 0) {
      // The file shrank under us; the reader will see the short read.
      if (errno != ENXIO) throw_errno("find holes in file descriptor " + std::to_string(fd));
    } else {
      end = std::min<uint64_t>(static_cast<uint64_t>(hole), size);
    }
    if (end <= static_cast<uint64_t>(data)) break;  // defensive: no progress
    extents.push_back({static_cast<uint64_t>(data), end - static_cast<uint64_t>(data)});
    pos = end;
  }
  return extents;
}

}  // namespace lifeboat::fs
