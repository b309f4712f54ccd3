package auth

// CoalesceSuccess is coalesceSuccess, for the external tests.
const CoalesceSuccess = coalesceSuccess

// SignInCacheTTL is signInCacheTTL, for the external tests.
const SignInCacheTTL = signInCacheTTL
