/* Writes that bypass the caches, for gradients larger than the last-level cache.
 *
 * A plain store first reads its cache line from memory (read for ownership), so writing
 * a result that does not fit in cache moves its bytes twice.  A backward pass writes an
 * input-sized gradient once, and at tens of MB that write dominates: a non-temporal
 * ("streaming") store sends whole lines straight to memory instead.  Measured on the
 * 2-core Zen 4 VM, 2 threads, a 48 MB read-and-write pass: 46 GB/s with plain stores,
 * 59 GB/s streamed; at 5 MB, where the result stays in cache, streaming lost (79 against
 * 99 GB/s), hence the callers' size threshold.
 *
 * ndp_stream_copy(dst, src, bytes): memcpy that streams the 16-byte-aligned middle of dst
 * (SSE2, every x86-64; plain memcpy elsewhere).  ndp_stream_zero(dst, bytes): memset to
 * zero, likewise.  Streamed stores are weakly ordered: a thread calls ndp_stream_fence()
 * after its last one and before others may read the memory (the end of a parallel loop).
 */
#ifndef NDPOOL_STREAM_H
#define NDPOOL_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <immintrin.h>
#endif

static inline void ndp_stream_copy(void *dst, const void *src, size_t bytes)
{
#if defined(__SSE2__)
    char *d = (char *)dst;
    const char *s = (const char *)src;
    size_t head = (16 - ((uintptr_t)d & 15)) & 15;
    if (head > bytes)
        head = bytes;
    if (head)
        memcpy(d, s, head);
    d += head;
    s += head;
    bytes -= head;
    for (; bytes >= 64; bytes -= 64, d += 64, s += 64) {
        __m128i a = _mm_loadu_si128((const __m128i *)s);
        __m128i b = _mm_loadu_si128((const __m128i *)(s + 16));
        __m128i c = _mm_loadu_si128((const __m128i *)(s + 32));
        __m128i e = _mm_loadu_si128((const __m128i *)(s + 48));
        _mm_stream_si128((__m128i *)d, a);
        _mm_stream_si128((__m128i *)(d + 16), b);
        _mm_stream_si128((__m128i *)(d + 32), c);
        _mm_stream_si128((__m128i *)(d + 48), e);
    }
    for (; bytes >= 16; bytes -= 16, d += 16, s += 16)
        _mm_stream_si128((__m128i *)d, _mm_loadu_si128((const __m128i *)s));
    if (bytes)
        memcpy(d, s, bytes);
#else
    memcpy(dst, src, bytes);
#endif
}

static inline void ndp_stream_zero(void *dst, size_t bytes)
{
#if defined(__SSE2__)
    char *d = (char *)dst;
    size_t head = (16 - ((uintptr_t)d & 15)) & 15;
    __m128i z = _mm_setzero_si128();
    if (head > bytes)
        head = bytes;
    if (head)
        memset(d, 0, head);
    d += head;
    bytes -= head;
    for (; bytes >= 16; bytes -= 16, d += 16)
        _mm_stream_si128((__m128i *)d, z);
    if (bytes)
        memset(d, 0, bytes);
#else
    memset(dst, 0, bytes);
#endif
}

static inline void ndp_stream_fence(void)
{
#if defined(__SSE2__)
    _mm_sfence();
#endif
}

#endif
