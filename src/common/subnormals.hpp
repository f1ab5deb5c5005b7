// Scoped flush-to-zero of subnormal floating-point values on the calling
// thread, for the hot loops whose state decays through the subnormal range.
#pragma once

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

namespace homeostat::simd {

// Flushes subnormal results and operands of float and double arithmetic to
// zero on this thread while it lives (x86: MXCSR FTZ and DAZ), restoring the
// previous mode after. The rise parts of fast receptors (AMPA: a factor e^-1
// per 0.1 ms step) pass through the subnormal range, below 1.2e-38 nS, after
// every gap of ~9 ms between inputs, and arithmetic on subnormals is slow.
class FlushSubnormals {
 public:
#if defined(__SSE__)
  FlushSubnormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | 0x8040u); }
  ~FlushSubnormals() { _mm_setcsr(saved_); }

 private:
  unsigned saved_;
#endif
};

}  // namespace homeostat::simd
