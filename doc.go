// Package workshop holds the checks that concern the repository as a whole, such as
// the Docker Compose file agreeing with the services' defaults. The workshop command is
// in cmd/workshop; the steps are modules of their own under steps/ and solutions/.
package workshop
