// A source of bytes that is not a file on disk (a pipe from a child
// process): read once, front to back, size unknown until the end.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lifeboat {

class ByteStream {
 public:
  virtual ~ByteStream() = default;
  // Reads up to `n` (> 0) bytes into `dst`; returns how many, 0 at the end
  // of the stream. Throws lifeboat::Error if the stream cannot be read.
  virtual size_t read(uint8_t* dst, size_t n) = 0;
  // Called once after read() returned 0: throws lifeboat::Error if whatever
  // produced the stream failed, so the bytes read are not to be trusted as
  // complete.
  virtual void finish() = 0;
};

}  // namespace lifeboat
