// Must not compile in the consumer build: proves that RapidJSON is out of reach there, so that the consumer
// test fails when a public header includes it (tests/consumer/CMakeLists.txt; the test
// consumer_sees_no_rapidjson).
#include <rapidjson/document.h>
