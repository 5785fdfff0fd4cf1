/*
 * bcryptprimitives.dll for Wine 8, which lacks it. Go 1.22 and later take
 * their random numbers from ProcessPrng in this DLL and refuse to start
 * without it ("bcryptprimitives.dll not found"). Windows 10 and later have
 * the real one; this stand-in forwards to advapi32's RtlGenRandom
 * (exported as SystemFunction036), which Wine has always provided.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	/* RtlGenRandom takes a ULONG; fill larger requests in pieces. */
	while (len > 0) {
		ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
		if (!SystemFunction036(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
