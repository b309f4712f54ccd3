package auth

// CoalesceSuccess is coalesceSuccess, for the external tests.
const CoalesceSuccess = coalesceSuccess
