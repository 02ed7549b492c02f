select c.customer_id, c.name, o.order_id, o.amount
from {{ ref('stg_customers') }} c join {{ ref('stg_orders') }} o on o.customer_id = c.customer_id
