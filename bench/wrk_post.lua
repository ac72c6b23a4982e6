-- wrk script for the POST routes: an empty body (wrk then sends Content-Length: 0).
wrk.method = "POST"
wrk.body = ""
