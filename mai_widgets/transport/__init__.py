"""Transport: deadlines and cancellation, the one HTTP layer, and the SDK-HMAC-SHA256 signer."""
