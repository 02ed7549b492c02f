select co.customer_id, co.name, t.total, t.orders
from (select distinct customer_id, name from {{ ref('customer_orders') }}) co
join {{ ref('order_totals') }} t on t.customer_id = co.customer_id
