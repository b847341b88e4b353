// Module of the image builder only, so that its CA bundle dependency does
// not become one of the controller's.
module github.com/baton-dev/baton/hack/image

go 1.26.0

require golang.org/x/crypto/x509roots/fallback v0.0.0-20261030153154-30a33513ff6d
