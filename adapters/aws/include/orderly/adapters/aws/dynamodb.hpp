// DynamoDB, all of it: the umbrella include for the JSON 1.0 protocol client
// (dynamodb_client.hpp), the AttributeValue mapping (attribute_value.hpp) and
// the ItemStore port on one table (dynamodb_item_store.hpp).
//
//   auto opts = dynamodb_options_from_env();          // AWS_REGION, credentials, endpoint
//   auto client = DynamoDbClient::create(*opts);
//   DynamoDbItemStore store(*client, {.table = "orders"});
//   store.put(item, Condition::not_exists());          // the same port as SQLite
#pragma once

#include "orderly/adapters/aws/attribute_value.hpp"
#include "orderly/adapters/aws/dynamodb_client.hpp"
#include "orderly/adapters/aws/dynamodb_item_store.hpp"
